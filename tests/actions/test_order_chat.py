"""The order-status action in the chat: slots across turns and sockets, fallbacks, no leaks.

The shop is the demo shop served over real HTTP on a loopback port (``shop_server``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.actions.definitions import ActionDefinition, Breaker
from bot.app import create_app
from bot.config import Settings
from bot.db import chat_store
from bot.db.models import DialogueState, Message, Prediction
from bot.privacy.erasure import erase_conversations
from bot.services import Models, Services
from tests.actions.shop_server import ShopSwitch

SHIPPED = "Your order NW-10042 is on its way with DHL. Tracking number: JD014600006181012345."
ASK_NUMBER = "What is your order number?"
ASK_CONTACT = "What e-mail address did you use for the order?"


def hello(ws: Any, token: str | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, "last_seq": None})
    welcome = ws.receive_json()
    assert welcome["type"] == "welcome"
    return welcome


def say(ws: Any, text: str, client_id: str) -> dict[str, Any]:
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    ack = ws.receive_json()
    assert ack["type"] == "ack", ack
    reply = ws.receive_json()
    assert reply["type"] == "message" and reply["role"] == "bot", reply
    return reply


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def change_action(client: TestClient, **changes: Any) -> ActionDefinition:
    """Serve the order-status action with ``changes`` (timeouts, breaker) in this app only."""
    actions = services_of(client).chat.responses.actions
    actions["order_status"] = actions["order_status"].model_copy(update=changes)
    return actions["order_status"]


@pytest.fixture
def shop_settings(settings: Settings, shop_url: str) -> Settings:
    return settings.model_copy(
        update={
            "business_actions": True,
            "actions_base_url": shop_url,
            "action_failed_lookups_per_conversation": 3,
        }
    )


@pytest.fixture
def shop_client(shop_settings: Settings, models: Models) -> Iterator[TestClient]:
    with TestClient(create_app(shop_settings, models)) as client:
        yield client


@pytest.fixture
def shop_db_client(shop_settings: Settings, models: Models, database_url: str) -> Iterator[TestClient]:
    """The app calling the shop, on SQLite and on PostgreSQL in turn."""
    settings = shop_settings.model_copy(update={"database_url": database_url})
    with TestClient(create_app(settings, models)) as client:
        yield client


def forms_of(client: TestClient) -> list[DialogueState]:
    with services_of(client).session_factory() as session:
        return list(session.scalars(select(DialogueState)))


def test_slots_are_asked_across_turns_and_survive_a_reconnect(shop_db_client: TestClient) -> None:
    client = shop_db_client
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        asked = say(ws, "where is my order?", "c1")
    assert ASK_NUMBER in asked["text"] and asked["intent"]["name"] == "track_order"
    assert [form.asking for form in forms_of(client)] == ["order_number"]
    # Another socket (a reload, or another process) finds the form where it was.
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"])
        ws.receive_json(), ws.receive_json()  # the two messages of the first socket
        assert ASK_CONTACT in say(ws, "NW-10042", "c2")["text"]
        assert forms_of(client)[0].slots == {"order_number": "NW-10042"}
        answer = say(ws, "jamie.fox@example.com", "c3")
    assert answer["text"] == SHIPPED and answer["action"] == "answer"
    assert forms_of(client) == []  # the form ended: its values are gone
    with services_of(client).session_factory() as session:
        payloads = [m.payload for m in session.scalars(select(Message).where(Message.role == "bot"))]
    # Staff see the filled slots, the e-mail redacted; the e-mail is stored nowhere else.
    assert payloads[-1]["form"]["slots"] == {"order number": "NW-10042", "e-mail or postcode": "[EMAIL]"}
    assert payloads[-1]["form"]["outcome"] == "ok"
    assert "jamie.fox" not in str(payloads)


def test_a_slot_in_the_first_message_is_not_asked_for(shop_client: TestClient) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert ASK_CONTACT in say(ws, "where is my order NW-10043?", "c1")["text"]
        reply = say(ws, "my postcode is 10115", "c2")
    assert reply["text"] == "Your order NW-10043 has been delivered by DPD (tracking number 01234567890123)."


def test_both_slots_in_the_first_message_answer_at_once(shop_client: TestClient) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        reply = say(ws, "where is my order NW-10042? I ordered as jamie.fox@example.com", "c1")
    assert reply["text"] == SHIPPED


def test_a_wrong_format_is_asked_again_with_a_hint_and_cancel_leaves(shop_client: TestClient) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "where is my order?", "c1")
        again = say(ws, "it's 4711", "c2")
        assert (
            again["text"].startswith("That doesn't look like an order number") and ASK_NUMBER in again["text"]
        )
        cancelled = say(ws, "cancel", "c3")
        assert cancelled["text"].startswith("OK, I've stopped")
        assert forms_of(shop_client) == []
        # Without a form, an order number alone is just a message again.
        assert say(ws, "how much is shipping to Germany?", "c4")["intent"]["name"] != "track_order"


def test_another_intent_leaves_the_form_and_is_answered(shop_client: TestClient) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "where is my order?", "c1")
        reply = say(ws, "I forgot my password", "c2")
    assert reply["intent"]["name"] == "reset_password" and "form" not in reply
    assert forms_of(shop_client) == []


def fallback_reply(client: TestClient) -> dict[str, Any]:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        return say(ws, "where is order NW-10042? email jamie.fox@example.com", "c1")


def assert_fallback(reply: dict[str, Any]) -> None:
    canned = ("tracking link", "shipping confirmation")
    assert reply["action"] == "offer_human", reply
    assert any(words in reply["text"] for words in canned)
    assert "connect you with a person" in reply["text"] and reply["suggestions"]


def test_a_5xx_answers_with_the_fallback(shop_client: TestClient, switch: ShopSwitch) -> None:
    switch.status = 502
    assert_fallback(fallback_reply(shop_client))
    assert switch.requests == 2  # retried once


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"unexpected": true}'])
def test_malformed_answers_get_the_fallback(shop_client: TestClient, switch: ShopSwitch, body: bytes) -> None:
    switch.body = body
    assert_fallback(fallback_reply(shop_client))


def test_a_timeout_answers_with_the_fallback_in_time(shop_client: TestClient, switch: ShopSwitch) -> None:
    change_action(shop_client, timeout_seconds=0.5)
    switch.delay_seconds = 3.0
    started = time.monotonic()
    assert_fallback(fallback_reply(shop_client))
    assert time.monotonic() - started < 2.5


def test_an_open_circuit_answers_without_calling(shop_client: TestClient, switch: ShopSwitch) -> None:
    change_action(shop_client, retries=0, breaker=Breaker(failures=1, open_seconds=60))
    switch.status = 500
    assert_fallback(fallback_reply(shop_client))
    switch.reset()
    reply = fallback_reply(shop_client)
    assert_fallback(reply)
    assert switch.requests == 1
    with services_of(shop_client).session_factory() as session:
        last = session.scalars(
            select(Message).where(Message.role == "bot").order_by(Message.id.desc())
        ).first()
    assert last is not None and last.payload["form"]["outcome"] == "circuit_open"


def test_a_wrong_email_reveals_nothing_and_guessing_is_limited(
    shop_client: TestClient, switch: ShopSwitch
) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        wrong_email = say(ws, "where is NW-10042? my email is someone@example.com", "c1")
        unknown = say(ws, "NW-99999 jamie.fox@example.com", "c2")
        assert wrong_email["text"] == unknown["text"]
        assert wrong_email["text"].startswith("I couldn't find an order")
        say(ws, "NW-10043 someone@example.com", "c3")
        assert switch.requests == 3
        limited = say(ws, "NW-10044 tom.becker@example.net", "c4")
    # The fourth guess is not even sent: the conversation spent its 3 misses.
    assert switch.requests == 3
    assert limited["action"] == "offer_human" and "person" in limited["text"]


def test_a_slow_backend_does_not_delay_other_customers(shop_client: TestClient, switch: ShopSwitch) -> None:
    change_action(shop_client, timeout_seconds=10.0)
    switch.delay_seconds = 3.0
    waited: dict[str, Any] = {}

    def look_up() -> None:
        started = time.monotonic()
        waited["reply"] = fallback_reply(shop_client)
        waited["seconds"] = time.monotonic() - started

    lookup = threading.Thread(target=look_up)
    lookup.start()
    deadline = time.monotonic() + 10
    while switch.requests == 0 and time.monotonic() < deadline:  # the call is on its way
        time.sleep(0.01)
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        started = time.monotonic()
        other = say(ws, "I forgot my password", "c1")
        other_seconds = time.monotonic() - started
    assert other["intent"]["name"] == "reset_password"
    assert lookup.is_alive(), "the other customer was answered only after the lookup"
    assert other_seconds < 1.5
    lookup.join(timeout=15)
    assert waited["reply"]["text"] == SHIPPED and waited["seconds"] >= 3.0


def test_erasure_deletes_an_open_form_with_its_values(shop_client: TestClient) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        say(ws, "my email is jamie.fox@example.com, where is my order?", "c1")
    assert forms_of(shop_client)[0].slots == {"contact": "jamie.fox@example.com"}
    erase_conversations(services_of(shop_client).session_factory, [welcome["conversation_id"]], actor="test")
    assert forms_of(shop_client) == []


def test_no_backend_call_while_a_person_holds_the_chat(shop_client: TestClient, switch: ShopSwitch) -> None:
    with shop_client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        say(ws, "where is my order?", "c1")
    factory = services_of(shop_client).session_factory
    chat_store.set_status(factory, welcome["conversation_id"], "agent")
    with shop_client.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"])
        ws.send_json({"type": "message", "client_id": "c2", "text": "NW-10042 jamie.fox@example.com"})
        while ws.receive_json()["type"] != "ack":
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the turn is over once its shadow prediction is stored
            with factory() as session:
                if session.scalar(select(func.count()).select_from(Prediction).where(Prediction.shadow)):
                    break
            time.sleep(0.05)
    assert switch.requests == 0
    assert [form.asking for form in forms_of(shop_client)] == ["order_number"]  # kept for the bot


def test_failed_lookups_are_limited_per_address_across_conversations(
    shop_settings: Settings, models: Models, switch: ShopSwitch
) -> None:
    settings = shop_settings.model_copy(update={"action_failed_lookups_per_address": 2})
    with TestClient(create_app(settings, models)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            hello(ws)
            say(ws, "NW-10042 someone@example.com where is it", "c1")
            say(ws, "NW-10043 someone@example.com", "c2")
        assert switch.requests == 2
        with client.websocket_connect("/ws/chat") as ws:  # a new conversation, the same address
            hello(ws)
            refused = say(ws, "where is my order NW-10045? lena.novak@example.com", "c1")
    assert switch.requests == 2 and refused["action"] == "offer_human"


def test_the_analytics_count_each_actions_calls_by_outcome(
    shop_db_client: TestClient, switch: ShopSwitch
) -> None:
    from bot.insights.action_figures import action_report
    from bot.insights.analytics import Scope

    change_action(shop_db_client, retries=0, breaker=Breaker(failures=1, open_seconds=60))
    with shop_db_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert (
            say(ws, "where is my order NW-10042? I ordered as jamie.fox@example.com", "c1")["text"] == SHIPPED
        )
        say(ws, "where is my order NW-10042? I ordered as someone@example.com", "c2")
    switch.status = 500
    assert_fallback(fallback_reply(shop_db_client))
    assert_fallback(fallback_reply(shop_db_client))  # the circuit is open now: no call

    today = dt.datetime.now(dt.UTC).date()
    report = action_report(services_of(shop_db_client).session_factory, Scope(today, today))
    [figures] = report.actions
    assert (figures.action, figures.calls, figures.ok, figures.failures) == ("order_status", 4, 1, 3)
    assert figures.outcomes == {"circuit_open": 1, "failed": 1, "not_found": 1, "ok": 1}
    assert figures.failure_rate == 0.75
    assert figures.latency_median_ms is not None and figures.latency_p95_ms is not None
    assert figures.latency_median_ms <= figures.latency_p95_ms
