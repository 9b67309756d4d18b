"""The widget in a real headless Chromium, against the real server and its database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db.models import Conversation, Feedback, Message
from bot.db.session import create_db_engine

pytestmark = pytest.mark.browser

PARCEL_QUESTION = "where is my parcel, it has not arrived"
MARKUP = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    """A session of its own on the live server's database."""
    engine = create_db_engine(settings.database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def open_widget(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.locator("button.launcher").click()
    expect(page.locator("div.panel")).to_be_visible()
    wait_until_connected(page)


def wait_until_connected(page: Page) -> None:
    page.wait_for_function("() => window.SupportChat && window.SupportChat.state().connected")


def send(page: Page, text: str) -> None:
    box = page.locator("form.composer textarea")
    box.fill(text)
    box.press("Enter")


def bot_reply_text(page: Page, seq: int) -> str:
    reply = page.locator(f'div.msg.bot[data-seq="{seq}"] .text')
    expect(reply).to_be_visible()
    return reply.text_content() or ""


def widget_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("() => window.SupportChat.state()")
    return state


def stored_messages(db: Session, conversation_id: str) -> list[Message]:
    db.expire_all()
    query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
    return list(db.scalars(query))


def test_message_typed_in_the_widget_is_answered_and_both_are_stored(
    page: Page, live_server: str, db: Session
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_widget(page, live_server)
    send(page, PARCEL_QUESTION)
    shown = bot_reply_text(page, 2)
    expect(page.locator('div.msg.user[data-seq="1"] .text')).to_have_text(PARCEL_QUESTION)
    expect(page.locator("div.typing")).to_be_hidden()

    state = widget_state(page)
    messages = stored_messages(db, state["conversationId"])
    assert [(m.seq, m.role, m.text) for m in messages] == [(1, "user", PARCEL_QUESTION), (2, "bot", shown)]
    assert messages[1].payload["intent"]["name"] == "track_order"
    assert state["lastSeq"] == 2 and state["pending"] == 0
    assert errors == []


def test_reload_keeps_the_transcript_and_continues_the_same_conversation(
    page: Page, live_server: str, db: Session
) -> None:
    open_widget(page, live_server)
    send(page, PARCEL_QUESTION)
    first_reply = bot_reply_text(page, 2)
    before = widget_state(page)

    page.reload()
    wait_until_connected(page)
    expect(page.locator('div.msg.user[data-seq="1"] .text')).to_have_text(PARCEL_QUESTION)
    expect(page.locator('div.msg.bot[data-seq="2"] .text')).to_have_text(first_reply)
    expect(page.locator("div.msg")).to_have_count(2)
    after = widget_state(page)
    assert after["conversationId"] == before["conversationId"]
    assert after["token"] == before["token"] and after["lastSeq"] == 2

    send(page, "how much does shipping cost")
    bot_reply_text(page, 4)
    messages = stored_messages(db, after["conversationId"])
    assert [(m.seq, m.role) for m in messages] == [(1, "user"), (2, "bot"), (3, "user"), (4, "bot")]
    assert messages[2].text == "how much does shipping cost"
    assert len(db.scalars(select(Conversation)).all()) == 1


def test_markup_in_a_message_is_shown_as_literal_text(page: Page, live_server: str, db: Session) -> None:
    open_widget(page, live_server)
    send(page, MARKUP)
    bot_reply_text(page, 2)
    expect(page.locator('div.msg.user[data-seq="1"] .text')).to_have_text(MARKUP)
    expect(page.locator("div.messages img")).to_have_count(0)
    # After a reload the transcript is rebuilt from localStorage; it must stay text there too.
    page.reload()
    wait_until_connected(page)
    expect(page.locator('div.msg.user[data-seq="1"] .text')).to_have_text(MARKUP)
    expect(page.locator("div.messages img")).to_have_count(0)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert stored_messages(db, widget_state(page)["conversationId"])[0].text == MARKUP


def test_thumbs_down_on_a_bot_reply_is_stored_as_feedback(page: Page, live_server: str, db: Session) -> None:
    open_widget(page, live_server)
    send(page, PARCEL_QUESTION)
    bot_reply_text(page, 2)
    reply = page.locator('div.msg.bot[data-seq="2"]')
    reply.locator("button.rate-down").click()
    expect(reply).to_have_attribute("data-feedback", "ok")
    expect(reply.locator("button.rate-down")).to_have_attribute("aria-pressed", "true")

    bot_message = stored_messages(db, widget_state(page)["conversationId"])[1]
    ratings = db.scalars(select(Feedback.rating).where(Feedback.message_id == bot_message.id)).all()
    assert ratings == ["down"]


def test_a_message_acknowledged_by_a_server_that_then_died_is_sent_again_until_answered(
    page: Page, live_server: str, db: Session
) -> None:
    """The first socket is cut after an acknowledgement that no stored message backs (what a
    server killed between its ack and its commit of the reply looks like to the widget); the
    widget keeps the message and, on the next socket, sends it again with the same client_id."""
    first_socket = True
    sent_by_widget: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        nonlocal first_socket
        server = ws.connect_to_server()
        dying = first_socket
        first_socket = False

        def from_widget(raw: str | bytes) -> None:
            frame = json.loads(raw)
            sent_by_widget.append(frame)
            if dying and frame["type"] == "message":
                ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"], "seq": 1}))
                ws.close(code=1011, reason="server died")
                return
            server.send(raw)

        ws.on_message(from_widget)
        server.on_message(lambda raw: ws.send(raw))

    page.route_web_socket("**/ws/chat", route)
    open_widget(page, live_server)
    send(page, PARCEL_QUESTION)
    assert bot_reply_text(page, 2)
    messages = [frame for frame in sent_by_widget if frame["type"] == "message"]
    assert len(messages) == 2 and messages[0]["client_id"] == messages[1]["client_id"]
    state = widget_state(page)
    assert state["pending"] == 0
    stored = stored_messages(db, state["conversationId"])
    assert [(m.seq, m.role) for m in stored] == [(1, "user"), (2, "bot")]


RETURN_URL = "https://help.northwind.example/articles/how-to-return"
LINKED_TEXT = "Write to help@northwind.example or see https://northwind.example/returns. <b>Thanks</b>"


def test_sources_and_addresses_in_a_reply_are_links_that_open_in_a_new_tab(
    page: Page, live_server: str
) -> None:
    """The server's reply is rewritten on the way: sources with addresses (one of them a
    javascript: URL, one title with markup) and a text with an e-mail address and a URL."""

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame.get("role") == "bot" and "sources" in frame:
                frame["text"] = LINKED_TEXT
                frame["sources"] = [
                    {"id": "how-to-return", "title": "How to Return an Item", "url": RETURN_URL},
                    {"id": "evil", "title": MARKUP, "url": "javascript:window.__xss=1"},
                    {"id": "plain", "title": "No Address"},
                ]
            ws.send(json.dumps(frame))

        ws.on_message(lambda raw: server.send(raw))
        server.on_message(from_server)

    page.route_web_socket("**/ws/chat", route)
    open_widget(page, live_server)
    send(page, "I want to return a jacket")
    reply = page.locator('div.msg.bot[data-seq="2"]')
    expect(reply.locator(".text")).to_have_text(LINKED_TEXT)

    text_links = reply.locator(".text a")
    expect(text_links).to_have_count(2)
    assert text_links.nth(0).get_attribute("href") == "mailto:help@northwind.example"
    assert text_links.nth(1).get_attribute("href") == "https://northwind.example/returns"
    assert text_links.nth(1).text_content() == "https://northwind.example/returns"  # not the full stop

    sources = reply.locator(".sources")
    expect(sources).to_have_count(1)
    expect(sources).to_have_text(f"Sources: How to Return an Item, {MARKUP}, No Address")
    source_links = sources.locator("a")
    expect(source_links).to_have_count(1)
    assert source_links.get_attribute("href") == RETURN_URL
    assert source_links.get_attribute("target") == "_blank"
    assert "noopener" in (source_links.get_attribute("rel") or "").split()
    for link in (*[text_links.nth(i) for i in range(2)], source_links):
        assert "noopener" in (link.get_attribute("rel") or "").split()
    expect(page.locator("div.messages img, div.messages b")).to_have_count(0)
    assert page.evaluate("() => typeof window.__xss") == "undefined"


def test_a_cited_article_is_shown_once_under_the_reply(page: Page, live_server: str) -> None:
    open_widget(page, live_server)
    send(page, "I want to return a jacket")
    text = bot_reply_text(page, 2)
    sources = page.locator('div.msg.bot[data-seq="2"] .sources')
    expect(sources).to_have_count(1)
    title = (sources.text_content() or "").removeprefix("Sources: ")
    assert title in ("Return Policy", "How to Return an Item")
    assert title not in text and "help centre" not in text


def test_the_widget_never_assigns_inner_html() -> None:
    from bot.config import PROJECT_ROOT

    source = (PROJECT_ROOT / "web" / "widget.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("*", "//")))
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "outerHTML" not in code
