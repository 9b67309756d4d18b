"""Each visitor limit of /ws/chat refuses as documented, and what it refuses leaves no trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.config import Settings
from bot.db.models import Conversation, Message
from bot.services import Models
from tests.staff.support import receive_within

Client = Callable[..., TestClient]


@pytest.fixture
def limited(settings: Settings, models: Models) -> Iterator[Client]:
    """Builds a client of the app with some limits changed."""
    clients: list[TestClient] = []

    def build(**limits: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=limits), models))
        clients.append(client.__enter__())
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def hello(ws: WebSocketTestSession, token: str | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token})
    return receive_within(ws)


def send(ws: WebSocketTestSession, text: str, client_id: str) -> dict[str, Any]:
    """The first frame after a message: its ack or its refusal (a reply follows an ack)."""
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    frame = receive_within(ws, 30)
    if frame["type"] == "ack":
        assert receive_within(ws, 30)["reply_to"] == frame["seq"]
    return frame


def count(client: TestClient, model: type, *where: Any) -> int:
    factory = client.app.state.services.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def closed_with(ws: WebSocketTestSession, seconds: float = 5.0) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            receive_within(ws, seconds)
    return closed.value.code


def test_messages_past_the_socket_limit_are_refused_and_not_stored(limited: Client) -> None:
    client = limited(chat_messages_per_minute=2)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert [send(ws, "where is my order", f"m{n}")["type"] for n in range(2)] == ["ack", "ack"]
        refused = send(ws, "where is my order", "m2")
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert refused["client_id"] == "m2" and 1 <= refused["retry_after"] <= 60
        # The socket stays usable: a frame that is not a message still works.
        ws.send_json({"type": "feedback", "seq": 2, "rating": "up"})
        assert receive_within(ws)["type"] == "feedback_ok"
    assert count(client, Message, Message.role == "user") == 2
    assert count(client, Message, Message.client_id == "m2") == 0


def test_a_socket_that_keeps_sending_past_refusals_is_closed_with_1008(limited: Client) -> None:
    client = limited(chat_messages_per_minute=1, chat_refusals_before_close=3)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert send(ws, "hi", "m0")["type"] == "ack"
        codes = [send(ws, "hi", f"m{n}")["code"] for n in range(1, 4)]
        assert codes == ["rate_limited"] * 3
        assert closed_with(ws) == 1008


def test_a_conversation_is_limited_over_all_its_sockets(limited: Client) -> None:
    client = limited(chat_messages_per_minute=10, chat_conversation_messages_per_minute=3)
    with client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat") as second:
        token = hello(first)["token"]
        hello(second, token)
        assert [send(first, "hello there", f"a{n}")["type"] for n in range(2)] == ["ack", "ack"]
        assert send(second, "hello there", "b0")["type"] == "ack"
        assert send(second, "hello there", "b1")["code"] == "rate_limited"


def test_an_address_is_limited_over_all_its_sockets_and_conversations(limited: Client) -> None:
    # Two hellos and three messages fit in the address's five.
    client = limited(chat_messages_per_minute=10, chat_address_messages_per_minute=5)
    with client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat") as second:
        hello(first)
        hello(second)
        assert [send(first, "hello there", f"a{n}")["type"] for n in range(2)] == ["ack", "ack"]
        assert send(second, "hello there", "b0")["type"] == "ack"
        assert send(second, "hello there", "b1")["code"] == "rate_limited"


def test_hellos_count_against_the_address_budget(limited: Client) -> None:
    client = limited(chat_address_messages_per_minute=3)
    with client.websocket_connect("/ws/chat") as ws:
        token = hello(ws)["token"]
    replies = []
    for _ in range(3):
        with client.websocket_connect("/ws/chat") as ws:
            replies.append(hello(ws, token))
    assert [reply["type"] for reply in replies] == ["welcome", "welcome", "error"]
    assert replies[2]["code"] == "rate_limited"


def test_text_past_the_daily_bytes_of_a_conversation_is_refused(limited: Client) -> None:
    client = limited(chat_conversation_bytes_per_day=1024)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert send(ws, "my parcel " + "x" * 590, "m0")["type"] == "ack"
        refused = send(ws, "my parcel " + "y" * 590, "m1")
        assert refused["code"] == "conversation_quota" and refused["retry_after"] >= 1
        assert send(ws, "thanks", "m2")["type"] == "ack"
    assert count(client, Message, Message.client_id == "m1") == 0


def test_new_conversations_per_address_are_limited_but_resuming_is_not(limited: Client) -> None:
    client = limited(chat_new_conversations_per_ip_per_hour=2)
    welcomes = []
    for _ in range(3):
        with client.websocket_connect("/ws/chat") as ws:
            welcomes.append(hello(ws))
    assert [w["type"] for w in welcomes] == ["welcome", "welcome", "error"]
    assert welcomes[2]["code"] == "too_many_conversations" and welcomes[2]["retry_after"] >= 1
    with client.websocket_connect("/ws/chat") as ws:
        assert hello(ws, welcomes[0]["token"])["conversation_id"] == welcomes[0]["conversation_id"]
    assert count(client, Conversation) == 2


def test_one_socket_repeating_hello_cannot_start_unlimited_conversations(limited: Client) -> None:
    client = limited(chat_new_conversations_per_ip_per_hour=3)
    with client.websocket_connect("/ws/chat") as ws:
        replies = [hello(ws)["type"] for _ in range(10)]
    assert replies == ["welcome"] * 3 + ["error"] * 7
    assert count(client, Conversation) == 3


def test_sockets_past_the_per_address_limit_are_refused_at_the_handshake(limited: Client) -> None:
    client = limited(chat_sockets_per_ip=2)
    with client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat"):
        with pytest.raises(WebSocketDisconnect) as refused:
            client.websocket_connect("/ws/chat").__enter__()
        assert refused.value.code == 1008
        hello(first)
    with client.websocket_connect("/ws/chat") as again:
        assert hello(again)["type"] == "welcome"


def test_a_socket_that_never_says_hello_is_closed_with_4408(limited: Client) -> None:
    client = limited(chat_hello_timeout_seconds=0.5)
    with client.websocket_connect("/ws/chat") as ws:
        # Other frames do not extend the deadline.
        ws.send_json({"type": "feedback", "seq": 1, "rating": "up"})
        assert receive_within(ws)["code"] == "hello_required"
        assert closed_with(ws) == 4408
    assert count(client, Conversation) == 0


def test_a_quiet_socket_is_closed_with_1001_after_the_idle_timeout(limited: Client) -> None:
    client = limited(chat_idle_timeout_seconds=0.5)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert send(ws, "where is my order", "m0")["type"] == "ack"
        assert closed_with(ws) == 1001
