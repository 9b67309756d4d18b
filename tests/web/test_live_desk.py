"""The live desk in a real Chromium: a long chat opens at its newest message, the unread marker,
assignment seen by a second agent in another browser, a canned reply inserted with the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.staff import accounts, canned
from tests.staff.support import PASSWORD, cheap_passwords, seed_turn  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import db, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]

SHIPPING = "Shipping is 4.95 EUR, and free on orders over 50 EUR."


def waiting_customer(chromium: Browser, contexts: list[BrowserContext], base_url: str) -> tuple[Page, str]:
    customer = new_page(chromium, contexts)
    customer.goto(base_url + "/")
    customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    customer.evaluate("() => window.SupportChat.send('i want to talk to a real human please')")
    expect(customer.locator("#support-chat-widget div.conv-status")).to_have_text("Waiting for a person…")
    return customer, customer.evaluate("() => window.SupportChat.state().conversationId")


def test_an_agent_takes_over_a_long_chat_at_its_newest_message_and_works_it_from_the_keyboard(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    accounts.create_user(db, "bob", PASSWORD, "agent", "Bob")
    canned.save_reply(db, "shipping", SHIPPING, "olga")
    customer, conversation = waiting_customer(chromium, contexts, live_server)
    for n in range(14):  # 2 + 28 messages: a 30-message chat
        seed_turn(db, conversation, f"question number {n}", reply=f"answer number {n}")

    ann = new_page(chromium, contexts)
    ann.context.grant_permissions(["notifications"])
    log_in(ann, live_server, "ann")
    bob = new_page(chromium, contexts)
    log_in(bob, live_server, "bob")
    for page in (ann, bob):
        page.click("#tabs a[data-tab=live]")
    ann.click("#desk-alerts")  # opt in: a tone and a desktop notification per new waiting chat
    expect(ann.locator("#desk-alerts")).to_have_attribute("aria-pressed", "true")
    other, _ = waiting_customer(chromium, contexts, live_server)
    ann.wait_for_function("() => window.__deskAlerts === 1")
    assert bob.evaluate("() => window.__deskAlerts") is None  # Bob did not opt in
    item = ann.locator(f'#live-list li[data-id="{conversation}"]')
    expect(item.locator(".unread")).to_have_text("30")
    expect(item.locator(".latest")).to_have_text("Bot: answer number 13")
    expect(item.locator(".wait")).to_contain_text("waiting")

    item.locator("a").click()
    expect(ann.locator('#transcript li[data-seq="30"]')).to_be_attached()
    ann.click("#assign-me")
    # Bob's console, in another browser, learns it from the database through the live event.
    bobs_item = bob.locator(f'#live-list li[data-id="{conversation}"]')
    expect(bobs_item.locator(".assignee")).to_have_text("Ann")
    expect(bob.locator("#desk-filter-mine .count")).to_have_text("0")
    expect(ann.locator("#desk-filter-mine .count")).to_have_text("1")

    ann.keyboard.press("t")  # take over
    expect(customer.locator("#support-chat-widget div.conv-status")).to_have_text("You’re chatting with Ann")
    newest = ann.locator('#transcript li[data-seq="30"]')
    expect(newest).to_be_in_viewport()
    expect(ann.locator('#transcript li[data-seq="1"]')).not_to_be_in_viewport()
    expect(item.locator(".unread")).to_have_count(0)
    customer.locator("#support-chat-widget button.launcher").click()
    customer.locator("#support-chat-widget form.composer textarea").press_sequentially("hel")
    expect(ann.locator("#customer-typing")).to_have_text("The customer is typing…")
    customer.locator("#support-chat-widget form.composer textarea").fill("")

    # Scrolled up, a new customer message shows the marker instead of moving the view.
    ann.evaluate("() => { document.getElementById('transcript').scrollTop = 0; }")
    customer.evaluate("() => window.SupportChat.send('are you still there?')")
    marker = ann.locator("#new-messages")
    expect(marker).to_have_text("1 new message ↓")
    expect(ann.locator('#transcript li[data-seq="31"]')).not_to_be_in_viewport()
    marker.click()
    expect(ann.locator('#transcript li[data-seq="31"]')).to_be_in_viewport()
    expect(marker).to_be_hidden()

    # The model's view of a turn, one key away; then a canned reply with the keyboard only.
    ann.locator("#transcript").focus()
    ann.keyboard.press("[")
    expect(ann.locator("#model-view .predicted-intent")).to_be_visible()
    ann.keyboard.press("r")
    ann.keyboard.type("/ship")
    expect(ann.locator('#canned-list li[data-shortcut="shipping"]')).to_be_visible()
    ann.keyboard.press("Enter")
    expect(ann.locator("#agent-text")).to_have_value(SHIPPING)
    ann.keyboard.press("Enter")
    expect(ann.locator("#notice")).to_be_hidden()
    expect(ann.locator("#agent-text")).to_have_value("")  # sent: the composer is cleared
    # Through the server and the hub to the other browser: allow for a busy CI machine.
    expect(customer.locator("#support-chat-widget div.msg.agent .text").last).to_have_text(
        SHIPPING, timeout=15_000
    )
    assert ann.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_an_operator_assigns_a_waiting_chat_to_an_agent_from_the_side_panel(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "olga", PASSWORD, "operator", "Olga")
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    _, conversation = waiting_customer(chromium, contexts, live_server)
    olga = new_page(chromium, contexts)
    log_in(olga, live_server, "olga")
    olga.goto(f"{live_server}/console#live/{conversation}")
    expect(olga.locator("#assign-to option")).to_have_count(3)  # nobody, Ann, Olga
    olga.select_option("#assign-to", "ann")
    olga.click("#assign-form button[type=submit]")
    expect(olga.locator(f'#live-list li[data-id="{conversation}"] .assignee')).to_have_text("Ann")
    expect(olga.locator("#side-assignee")).to_have_text("Ann")
    assert olga.errors == []  # type: ignore[attr-defined]
