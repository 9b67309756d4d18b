"""The staff console in a real headless Chromium, against the real server, with a customer's widget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db.models import Label, Message, Prediction
from bot.db.session import create_db_engine, create_session_factory
from bot.staff import accounts
from tests.staff.support import PASSWORD, cheap_passwords, new_conversation, seed_turn  # noqa: F401
from tests.web.conftest import new_page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]

PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3"></svg>',
]


@pytest.fixture
def db(settings: Settings, live_server: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the live server's (already migrated) database."""
    engine = create_db_engine(settings.database_url)
    yield create_session_factory(engine)
    engine.dispose()


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/console")
    expect(page).to_have_url(base_url + "/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#whoami")).to_contain_text(username)


def test_log_in_filter_open_a_transcript_and_relabel_a_turn(
    chromium: Browser, contexts: list[BrowserContext], live_server: str, db: sessionmaker[Session]
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    parcel = new_conversation(db)
    turn, _ = seed_turn(db, parcel, "where is my parcel?", "track_order", 0.62, runner_up=0.31)
    seed_turn(db, new_conversation(db), "I forgot my password", "reset_password", 0.97)
    page = new_page(chromium, contexts)
    log_in(page, live_server, "ann")

    rows = page.locator("#conversation-list tbody tr")
    expect(rows).to_have_count(2)
    page.fill("#filters input[name=q]", "parcel")
    page.select_option("#filters select[name=intent]", "track_order")
    page.click("#filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.preview")).to_have_text("where is my parcel?")
    rows.first.click()

    customer_turn = page.locator(f'li.turn.user[data-message-id="{turn.id}"]')
    expect(customer_turn.locator(".predicted-intent")).to_have_text("track_order")
    expect(customer_turn.locator(".alternatives")).to_contain_text("other_intent 0.31")
    expect(customer_turn.locator(".label-current")).to_have_text("No label yet.")
    customer_turn.locator("select.intent-select").select_option("cancel_order")
    customer_turn.locator("button.set-intent").click()
    customer_turn = page.locator(f'li.turn.user[data-message-id="{turn.id}"]')
    expect(customer_turn.locator(".label-intent")).to_have_text("cancel_order")
    customer_turn.locator("button.out-of-scope").click()
    expect(customer_turn.locator(".label-intent")).to_have_text("out_of_scope")
    expect(customer_turn.locator(".label-history li")).to_have_count(2)

    page.click("#mark-reviewed")
    expect(page.locator("#t-reviewed")).to_have_text("reviewed by ann")
    with db() as session:
        labels = session.scalars(select(Label).where(Label.message_id == turn.id).order_by(Label.id)).all()
    assert [(label.intent, label.source, label.created_by) for label in labels] == [
        ("cancel_order", "staff", "ann"),
        ("out_of_scope", "staff", "ann"),
    ]
    assert page.errors == []  # type: ignore[attr-defined]


def test_customer_and_staff_chat_through_take_over_and_hand_back(
    chromium: Browser, contexts: list[BrowserContext], live_server: str, db: sessionmaker[Session]
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann from Support")
    staff = new_page(chromium, contexts)
    log_in(staff, live_server, "ann")
    staff.click("#tabs a[data-tab=live]")
    expect(staff.locator("#live-list")).to_contain_text("Nobody is waiting.")

    customer = new_page(chromium, contexts)
    customer.goto(live_server + "/")
    customer.locator("button.launcher").click()
    customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    widget = customer.locator("#support-chat-widget")
    customer.evaluate("() => window.SupportChat.send('i want to talk to a real human please')")
    expect(widget.locator("div.conv-status")).to_have_text("Waiting for a person…")

    # The waiting queue updates without a reload.
    waiting = staff.locator('#live-list li[data-status="waiting"]')
    expect(waiting).to_have_count(1)
    expect(staff.locator("#waiting-count")).to_have_text("1")
    waiting.click()
    staff.click("#take-over")
    expect(widget.locator("div.conv-status")).to_have_text("You’re chatting with Ann from Support")

    staff.fill("#agent-text", "Hi, this is Ann. How can I help?")
    staff.click("#agent-composer button[type=submit]")
    agent_message = widget.locator("div.msg.agent")
    expect(agent_message.locator(".text")).to_have_text("Hi, this is Ann. How can I help?")
    expect(agent_message.locator(".author")).to_have_text("Ann from Support")

    bot_replies_before = widget.locator("div.msg.bot").count()
    customer.evaluate("() => window.SupportChat.send('where is my parcel?')")
    expect(staff.locator("li.bubble.user").last.locator(".text")).to_have_text("where is my parcel?")
    expect(staff.locator("li.bubble.user").last.locator(".shadow")).to_be_visible()
    assert widget.locator("div.msg.bot").count() == bot_replies_before

    staff.click("#hand-back")
    expect(widget.locator("div.conv-status")).to_have_text("You’re chatting with the assistant")
    customer.evaluate("() => window.SupportChat.send('how much does shipping cost')")
    expect(widget.locator("div.msg.bot")).to_have_count(bot_replies_before + 1)

    conversation_id = customer.evaluate("() => window.SupportChat.state().conversationId")
    with db() as session:
        rows = session.execute(
            select(Message.seq, Message.role, Message.text)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq)
        ).all()
        silent_turn = next(row for row in rows if row.text == "where is my parcel?")
        shadows = session.scalars(
            select(Prediction)
            .join(Message)
            .where(Message.conversation_id == conversation_id, Prediction.shadow)
        ).all()
    roles = [row.role for row in rows]
    assert roles == ["user", "bot", "agent", "user", "user", "bot"]
    assert [(p.intent, p.shadow) for p in shadows] == [("track_order", True)]
    assert silent_turn.seq == rows[3].seq
    assert customer.errors == [] and staff.errors == []  # type: ignore[attr-defined]


def test_customer_markup_is_shown_as_text_and_never_runs_in_the_console(
    chromium: Browser, contexts: list[BrowserContext], live_server: str, db: sessionmaker[Session]
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    customer = new_page(chromium, contexts)
    customer.goto(live_server + "/")
    customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    for payload in PAYLOADS:
        customer.evaluate("(text) => window.SupportChat.send(text)", payload)
    widget = customer.locator("#support-chat-widget")
    expect(widget.locator("div.msg.bot")).to_have_count(len(PAYLOADS))

    staff = new_page(chromium, contexts)
    log_in(staff, live_server, "ann")
    row = staff.locator("#conversation-list tbody tr").first
    expect(row.locator("td.preview")).to_have_text(PAYLOADS[0])
    row.click()
    turns = staff.locator("li.turn.user .text")
    expect(turns).to_have_count(len(PAYLOADS))
    for index, payload in enumerate(PAYLOADS):
        expect(turns.nth(index)).to_have_text(payload)
    staff.click("#tabs a[data-tab=queue]")
    expect(staff.locator("#queue-list tbody td.text").first).to_be_visible()

    assert staff.evaluate("() => window.__xss") is None
    assert customer.evaluate("() => window.__xss") is None
    assert staff.locator("main img, main svg, main script").count() == 0
    assert staff.errors == []  # type: ignore[attr-defined]


def test_the_conversation_list_shows_a_new_hand_off_without_a_reload(
    chromium: Browser, contexts: list[BrowserContext], live_server: str, db: sessionmaker[Session]
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    staff = new_page(chromium, contexts)
    log_in(staff, live_server, "ann")
    rows = staff.locator("#conversation-list tbody tr[data-id]")
    expect(rows).to_have_count(0)

    customer = new_page(chromium, contexts)
    customer.goto(live_server + "/")
    customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    customer.evaluate("() => window.SupportChat.send('can I speak to a person please')")

    # Well inside the 20 s poll: the hand-off's live event refreshes the list.
    expect(rows).to_have_count(1, timeout=5_000)
    expect(rows.first.locator("td.preview")).to_have_text("can I speak to a person please")
    expect(rows.first).to_contain_text("waiting")
    assert staff.errors == []  # type: ignore[attr-defined]
