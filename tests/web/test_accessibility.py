"""Accessibility in a real Chromium: axe-core finds no serious or critical violation on the widget,
the console's conversation list, a transcript and the live desk; the widget works from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.staff import accounts
from tests.staff.support import PASSWORD, cheap_passwords, new_conversation, seed_turn  # noqa: F401
from tests.web.axe import violations
from tests.web.conftest import new_page
from tests.web.test_console_browser import db, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]


def test_the_widget_from_the_keyboard_alone_with_no_serious_violation(
    chromium: Browser, contexts: list[BrowserContext], live_server: str
) -> None:
    page = new_page(chromium, contexts)
    page.goto(live_server + "/")
    widget = page.locator("#support-chat-widget")
    launcher = widget.locator("button.launcher")
    for _ in range(12):  # Tab through the shop's page to the launcher
        page.keyboard.press("Tab")
        if launcher.evaluate("(b) => b.getRootNode().activeElement === b"):
            break
    focused = "(b) => b.getRootNode().activeElement === b"
    assert launcher.evaluate(focused), "the launcher is reachable with Tab"
    page.keyboard.press("Enter")
    box = widget.locator("form.composer textarea")
    expect(box).to_be_focused()
    page.wait_for_function("() => window.SupportChat.state().connected")
    page.keyboard.type("how much does shipping cost")
    page.keyboard.press("Enter")
    reply = widget.locator('div.msg.bot[data-seq="2"]')
    expect(reply).to_be_visible()
    expect(widget.locator("div.messages")).to_have_attribute("aria-live", "polite")
    assert violations(page) == []
    page.keyboard.press("Escape")
    expect(widget.locator("div.panel")).to_be_hidden()
    assert launcher.evaluate("(b) => b.getRootNode().activeElement === b"), "focus goes back to the launcher"


def test_console_list_transcript_and_live_desk_have_no_serious_violation(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    conversation = new_conversation(db)
    seed_turn(db, conversation, "where is my parcel?", "track_order", 0.62, runner_up=0.31)
    page = new_page(chromium, contexts)
    log_in(page, live_server, "ann")
    expect(page.locator("#conversation-list tbody tr")).to_have_count(1)
    assert violations(page) == [], "conversation list"

    # The review queue: labelled straight from the list, several ticked turns at once.
    second = new_conversation(db)
    seed_turn(db, second, "do you sell gift cards", "other_intent", 0.3, action="offer_human")
    page.click("#tabs a[data-tab=queue]")
    rows = page.locator("#queue-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="do you sell gift cards")).to_contain_text("judged out of scope")
    page.check("#queue-all")
    page.select_option("#queue-bulk select[name=intent]", "out_of_scope")
    page.click("#queue-bulk button[type=submit]")
    expect(page.locator("#queue-result")).to_have_text("2 turns labelled out_of_scope.")
    expect(rows).to_have_count(0)
    page.click("#tabs a[data-tab=conversations]")

    page.locator(f'#conversation-list tbody tr[data-id="{conversation}"]').click()
    expect(page.locator("li.turn.user .predicted-intent")).to_have_text("track_order")
    assert violations(page) == [], "transcript"

    customer = new_page(chromium, contexts)
    customer.goto(live_server + "/")
    customer.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    customer.evaluate("() => window.SupportChat.send('i want to talk to a real human please')")
    page.click("#tabs a[data-tab=live]")
    page.locator('#live-list li[data-status="waiting"] a').click()
    page.click("#take-over")
    expect(page.locator("#agent-composer")).to_be_visible()
    page.locator("#transcript li.bubble.user").first.click()
    expect(page.locator("#model-view .predicted-intent")).to_be_visible()
    assert violations(page) == [], "live desk"
