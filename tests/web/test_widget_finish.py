"""The finished widget in a real Chromium: its look, timestamps, thumbs only under answers, system
lines when a person joins and leaves, the rating after the chat ends and a new chat, German strings,
and the favicon."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.staff import accounts
from tests.staff.support import PASSWORD, cheap_passwords  # noqa: F401
from tests.web.conftest import new_page
from tests.web.test_console_browser import db  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_passwords")]

GERMAN_PAGE = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Shop</title></head>
<body><main><h1>Shop</h1></main>
<script src="/widget.js" data-lang="de" data-bot-name="Nora" defer></script></body></html>"""


def open_chat(page: Page, url: str) -> Any:
    page.goto(url)
    page.locator("button.launcher").click()
    page.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")
    return page.locator("#support-chat-widget")


class StaffApi:
    """A staff member acting through the JSON API from a browser context (session cookie + CSRF)."""

    def __init__(self, context: BrowserContext, base_url: str, username: str) -> None:
        self.request = context.request
        self.base_url = base_url
        login = self.request.post(
            base_url + "/api/auth/login", data={"username": username, "password": PASSWORD}
        )
        assert login.ok, login.text()
        self.csrf = login.json()["csrf_token"]

    def post(self, path: str, body: dict[str, Any] | None = None) -> None:
        response = self.request.post(
            self.base_url + path, data=body or {}, headers={"X-CSRF-Token": self.csrf}
        )
        assert response.ok, response.text()


def test_look_timestamps_thumbs_system_lines_rating_and_a_new_chat(
    chromium: Browser,
    contexts: list[BrowserContext],
    live_server: str,
    db: sessionmaker[Session],  # noqa: F811
) -> None:
    accounts.create_user(db, "ann", PASSWORD, "agent", "Ann")
    page = new_page(chromium, contexts)
    console_errors: list[str] = []
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )
    widget = open_chat(page, live_server + "/")

    expect(widget.locator(".welcome .text")).to_contain_text("Northwind assistant")
    expect(widget.locator(".header .bot-name")).to_have_text("Northwind assistant")
    avatar = widget.locator("img.avatar")
    expect(avatar).to_be_visible()
    assert avatar.evaluate("(img) => img.complete && img.naturalWidth > 0")
    assert avatar.get_attribute("src") == live_server + "/widget-avatar.svg"

    page.evaluate("() => window.SupportChat.send('how much does shipping cost')")
    answer = widget.locator('div.msg.bot[data-seq="2"]')
    expect(answer.locator(".rate-up")).to_be_visible()
    expect(answer.locator("time.time")).to_have_text(
        page.evaluate(
            "(iso) => new Date(iso).toLocaleTimeString('en', {hour: '2-digit', minute: '2-digit'})",
            answer.locator("time").get_attribute("datetime"),
        )
    )
    expect(widget.locator('div.msg.user[data-seq="1"] time.time')).to_be_visible()
    page.evaluate("() => window.SupportChat.send('i want to talk to a real human please')")
    handoff = widget.locator('div.msg.bot[data-seq="4"]')
    expect(handoff).to_be_visible()
    expect(handoff.locator(".rate-up")).to_have_count(0)  # the hand-off message is no answer to rate

    conversation = page.evaluate("() => window.SupportChat.state().conversationId")
    ann = StaffApi(new_page(chromium, contexts).context, live_server, "ann")
    ann.post(f"/api/conversations/{conversation}/take-over")
    expect(widget.locator(".system")).to_have_text(["Ann joined the chat"])
    ann.post(f"/api/conversations/{conversation}/close")
    expect(widget.locator(".system")).to_have_text(
        ["Ann joined the chat", "Ann left the chat", "The chat was closed"]
    )
    expect(widget.locator("form.composer")).to_be_hidden()
    expect(widget.locator("form.csat")).to_be_visible()
    widget.locator('button.star[data-value="4"]').click()
    widget.locator("button.csat-submit").click()
    new_chat = widget.locator("button.new-chat")
    expect(new_chat).to_be_focused()
    new_chat.press("Enter")
    page.wait_for_function(
        "(old) => { const s = window.SupportChat.state(); return s.connected && s.conversationId !== old; }",
        arg=conversation,
    )
    expect(widget.locator("div.msg, .system")).to_have_count(0)
    expect(widget.locator("form.composer textarea")).to_be_focused()
    assert console_errors == [] and page.errors == []  # type: ignore[attr-defined]


def test_german_strings_from_data_lang_and_the_favicon(
    chromium: Browser, contexts: list[BrowserContext], live_server: str
) -> None:
    page = new_page(chromium, contexts)
    page.route(
        live_server + "/de.html", lambda route: route.fulfill(body=GERMAN_PAGE, content_type="text/html")
    )
    page.goto(live_server + "/de.html")
    launcher = page.locator("button.launcher")
    expect(launcher).to_have_attribute("aria-label", "Chat öffnen")
    launcher.click()
    widget = page.locator("#support-chat-widget")
    expect(widget.locator("button.end-chat")).to_have_text("Chat beenden")
    expect(widget.locator("form.composer textarea")).to_have_attribute("placeholder", "Ihre Nachricht…")
    expect(widget.locator(".welcome .text")).to_have_text(
        "Hallo! Fragen Sie uns einfach — wir antworten meist sofort."
    )
    expect(widget.locator(".header .bot-name")).to_have_text("Nora")
    favicon = page.request.get(live_server + "/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"


def test_end_chat_closes_the_conversation_offers_the_rating_then_a_new_chat(
    chromium: Browser, contexts: list[BrowserContext], live_server: str
) -> None:
    page = new_page(chromium, contexts)
    widget = open_chat(page, live_server + "/")
    page.evaluate("() => window.SupportChat.send('how much does shipping cost')")
    expect(widget.locator('div.msg.bot[data-seq="2"]')).to_be_visible()
    first = page.evaluate("() => window.SupportChat.state().conversationId")

    widget.locator("button.end-chat").click()
    expect(widget.locator(".system")).to_have_text(["You ended the chat"])
    expect(widget.locator("div.conv-status")).to_have_text("This chat was closed")
    expect(widget.locator("form.composer")).to_be_hidden()
    expect(widget.locator('button.star[data-value="1"]')).to_be_focused()
    widget.locator("button.csat-cancel").click()  # skip the rating
    widget.locator("button.new-chat").click()
    page.wait_for_function(
        "(old) => { const s = window.SupportChat.state(); return s.connected && s.conversationId !== old; }",
        arg=first,
    )
    page.evaluate("() => window.SupportChat.send('how much does shipping cost')")
    expect(widget.locator('div.msg.bot[data-seq="2"]')).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
