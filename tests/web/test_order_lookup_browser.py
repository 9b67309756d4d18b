"""The demo's order lookup in a real headless Chromium against `bot serve`'s app and its own demo
shop (``/demo/api``): the customer is asked for the order number, then the e-mail, then gets the
status with carrier and tracking number; an operator tries the action with the Test button."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.config import Settings
from bot.db.session import create_db_engine, create_session_factory
from bot.services import Models
from bot.staff import accounts
from tests.live_server import serve_in_thread
from tests.staff.support import PASSWORD, cheap_passwords  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import log_in
from tests.web.test_widget import bot_reply_text, open_widget, send

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]


@pytest.fixture
def shop_server(settings: Settings, models: Models) -> Iterator[str]:
    """The app with business actions on, calling its own demo shop over HTTP as `bot serve` does."""
    settings = settings.model_copy(update={"business_actions": True})
    app = create_app(settings, models)
    with serve_in_thread(app, settings) as url:
        # `bot serve` sets BOT_ACTIONS_BASE_URL to its own address; here the port is known only now.
        app.state.services.forms.caller.base_url = url + "/demo/api"
        yield url


def test_the_customer_is_asked_for_number_and_email_then_told_the_status(
    chromium: Browser, contexts: list[BrowserContext], shop_server: str, settings: Settings
) -> None:
    customer = new_page(chromium, contexts)
    open_widget(customer, shop_server)
    send(customer, "where is my order?")
    assert "order number" in bot_reply_text(customer, 2)
    send(customer, "NW-10042")
    assert "e-mail address" in bot_reply_text(customer, 4)
    send(customer, "jamie.fox@example.com")
    status = bot_reply_text(customer, 6)
    assert "on its way with DHL" in status and "JD014600006181012345" in status
    # The questions are no answers to rate; the status is.
    expect(customer.locator('div.msg.bot[data-seq="2"] .feedback')).to_have_count(0)
    expect(customer.locator('div.msg.bot[data-seq="4"] .feedback')).to_have_count(0)
    expect(customer.locator('div.msg.bot[data-seq="6"] .feedback')).to_have_count(1)
    conversation_id = customer.evaluate("() => localStorage.getItem('supportChat.conversationId')")

    engine = create_db_engine(settings.database_url)
    factory: sessionmaker[Session] = create_session_factory(engine)
    accounts.create_user(factory, "olga", PASSWORD, "operator", "Olga")
    engine.dispose()
    operator = new_page(chromium, contexts)
    log_in(operator, shop_server, "olga")
    # The transcript shows what the bot collected, the e-mail redacted.
    operator.goto(f"{shop_server}/console#c/{conversation_id}")
    collected = operator.locator("#transcript .detail.form").last
    expect(collected).to_contain_text("filled: order number NW-10042, e-mail or postcode [EMAIL]")
    expect(collected).to_contain_text("ok in")
    operator.click("#tabs a[data-tab=content]")
    row = operator.locator('#action-list tr[data-action="order_status"]')
    expect(row).to_contain_text("track_order")
    row.click()
    expect(operator.locator("#ac-slots input[data-slot=order_number]")).to_have_value("NW-10042")
    operator.locator("#ac-slots input[data-slot=order_number]").fill("NW-10043")
    operator.locator("#ac-slots input[data-slot=contact]").fill("10115")
    operator.click("#ac-run")
    expect(operator.locator("#ac-reply")).to_have_text(
        "Your order NW-10043 has been delivered by DPD (tracking number 01234567890123)."
    )
    expect(operator.locator("#ac-outcome")).to_contain_text("ok (HTTP 200")
    assert operator.errors == []  # type: ignore[attr-defined]
