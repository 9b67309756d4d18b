"""Replies and articles in the console, in a real headless Chromium against the real server: an
operator edits a reply and a customer whose widget is already open gets it; approving a new
intent asks for its reply."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.responses import IntentResponse
from bot.config import Settings
from bot.content import store
from bot.db.models import IntentProposal
from bot.db.session import create_db_engine, create_session_factory
from bot.staff import accounts
from tests.staff.support import PASSWORD, cheap_passwords  # noqa: F401
from tests.web.conftest import TIMEOUT_MS
from tests.web.test_console_browser import log_in
from tests.web.test_widget import open_widget, send

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]

NEW_REPLY = "Follow your parcel live on the Track page of your account: it updates every few minutes."


@pytest.fixture
def db(settings: Settings, live_server: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(settings.database_url)
    yield create_session_factory(engine)
    engine.dispose()


@pytest.fixture
def pages(chromium: Browser) -> Iterator[list[Page]]:
    contexts: list[BrowserContext] = []

    def new_page() -> Page:
        context = chromium.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield [new_page(), new_page()]
    for context in contexts:
        context.close()


def test_an_operator_edits_a_reply_in_the_console_and_an_open_widget_gets_it(
    pages: list[Page], live_server: str, db: sessionmaker[Session]
) -> None:
    customer, operator = pages
    open_widget(customer, live_server)
    send(customer, "where is my parcel? it has not arrived yet")
    first = customer.locator('div.msg.bot[data-seq="2"] .text')
    expect(first).to_be_visible()
    assert NEW_REPLY not in (first.text_content() or "")

    accounts.create_user(db, "olga", PASSWORD, "operator", "Olga")
    log_in(operator, live_server, "olga")
    operator.click("#tabs a[data-tab=content]")
    operator.click('#response-list tr[data-intent="track_order"]')
    editor = operator.locator("#response-form")
    expect(editor).to_be_visible()
    boxes = editor.locator("#re-replies .reply-text")
    expect(boxes).to_have_count(2)
    boxes.nth(0).fill(NEW_REPLY)
    editor.locator("#re-replies .remove-reply").nth(1).click()
    editor.locator("#re-save").click()
    expect(operator.locator("#re-status")).to_contain_text("Saved as version 2")
    expect(operator.locator("#content-history li").first).to_contain_text("v2 · update by olga")

    send(customer, "where is my parcel? it has not arrived yet")
    reply = customer.locator('div.msg.bot[data-seq="4"] .text')
    expect(reply).to_have_text(re.compile("^" + re.escape(NEW_REPLY)))


def test_an_agent_reads_the_replies_as_text_but_cannot_change_them(
    pages: list[Page], live_server: str, db: sessionmaker[Session]
) -> None:
    agent = pages[0]
    markup = '<img src=x onerror="window.__xss=1">Track it'
    store.save_response(db, "track_order", IntentResponse("Track my order", [markup]), "olga")
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    log_in(agent, live_server, "ann")
    agent.click("#tabs a[data-tab=content]")
    row = agent.locator('#response-list tr[data-intent="track_order"]')
    expect(row).to_contain_text(markup)
    row.click()
    expect(agent.locator("#re-replies .reply-text").first).to_have_value(markup)
    expect(agent.locator("#re-replies .reply-text").first).not_to_be_editable()
    expect(agent.locator("#re-save")).to_be_hidden()
    expect(agent.locator("#new-response")).to_be_hidden()
    agent.locator("#content-history details").first.click()
    expect(agent.locator("#content-history pre").first).to_contain_text(markup)
    expect(agent.locator("#view-content img")).to_have_count(0)
    assert agent.evaluate("() => typeof window.__xss") == "undefined"


def test_approving_a_new_intent_asks_for_its_reply_and_shows_the_fallback_without_one(
    pages: list[Page], live_server: str, db: sessionmaker[Session]
) -> None:
    with db() as session:
        session.add_all(
            [
                IntentProposal(name="gift_wrapping", proposed_by="ann", status="pending"),
                IntentProposal(name="store_hours", proposed_by="ann", status="pending"),
            ]
        )
        session.commit()
    accounts.create_user(db, "olga", PASSWORD, "operator", "Olga")
    operator = pages[0]
    log_in(operator, live_server, "olga")
    operator.click("#tabs a[data-tab=proposals]")

    operator.click('#proposal-list tr[data-name="gift_wrapping"] button.approve')
    form = operator.locator('tr.approve-row[data-name="gift_wrapping"]')
    expect(form.locator("input[name=title]")).to_have_value("Gift wrapping")
    form.locator("textarea[name=reply]").fill("We gift-wrap any order for 3.50 EUR; choose it at checkout.")
    form.locator("button.approve-with-reply").click()
    wrapped = operator.locator('#proposal-list tr[data-name="gift_wrapping"]')
    expect(wrapped.locator(".proposal-status")).to_have_text("approved")
    expect(wrapped.locator(".proposal-reply")).to_have_text("Written")

    operator.click('#proposal-list tr[data-name="store_hours"] button.approve')
    operator.locator('tr.approve-row[data-name="store_hours"] button.approve-without-reply').click()
    hours = operator.locator('#proposal-list tr[data-name="store_hours"]')
    expect(hours.locator(".proposal-status")).to_have_text("approved")
    expect(hours.locator(".proposal-reply")).to_contain_text("answers with the fallback")

    operator.click("#tabs a[data-tab=content]")
    expect(operator.locator("#content-missing")).to_contain_text("answer with the fallback")
    expect(operator.locator("#content-missing a.missing-intent")).to_have_count(1)
    operator.click('#content-missing a[data-intent="store_hours"]')
    expect(operator.locator("#re-heading")).to_have_text("New reply for store_hours")
    operator.locator("#re-replies .reply-text").first.fill("Our shops open 9:00-18:00, Monday to Saturday.")
    operator.locator("#re-save").click()
    expect(operator.locator("#re-status")).to_contain_text("Saved as version 1")
    expect(operator.locator("#content-missing")).to_be_hidden()
    expect(operator.locator('#response-list tr[data-intent="gift_wrapping"]')).to_contain_text("3.50 EUR")
