"""Frames and query strings a hostile visitor sends: each gets its own refusal code, the socket
stays usable, nothing is stored, and no handler crashes (a crash would re-raise here)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.db.models import Message
from tests.api.test_chat_ws import count, hello, say
from tests.staff.support import receive_within, staff

HUGE = 10**29  # a 30-digit integer once overflowed a database column (OverflowError)
DEEP = "[" * 1000 + "]" * 1000  # once raised RecursionError inside the handler


def refusal(ws: Any, frame: dict[str, Any] | str) -> dict[str, Any]:
    ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))
    reply = receive_within(ws)
    assert reply["type"] == "error", reply
    return reply


def test_a_lone_surrogate_in_the_text_is_refused_before_it_is_stored(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        # json.dumps writes the surrogate as the escape a browser would send.
        error = refusal(ws, {"type": "message", "client_id": "c1", "text": "hi \ud800"})
        assert error["code"] == "invalid_text"
        assert error["client_id"] == "c1"
        assert (
            refusal(ws, {"type": "message", "client_id": "c2", "text": "a\u0000b"})["code"] == "invalid_text"
        )
        ack, reply = say(ws, "where is my order?", "c3")
    assert ack["seq"] == 1 and reply["role"] == "bot"
    assert count(client, Message) == 2


def test_a_malformed_client_id_is_refused_and_not_echoed(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        for bad in ("x\ud800", "", "a" * 65, "<script>", "id with spaces"):
            error = refusal(ws, {"type": "message", "client_id": bad, "text": "hello"})
            assert error["code"] == "invalid_client_id"
            assert "client_id" not in error
        assert say(ws, "hello", "ok-1")[0]["type"] == "ack"
    assert count(client, Message) == 2


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "hello", "last_seq": HUGE},
        {"type": "feedback", "seq": HUGE, "rating": "up"},
        {"type": "message", "client_id": "c1", "text": "this one", "choice": {"seq": HUGE, "index": 0}},
        {"type": "message", "client_id": "c1", "text": "this one", "choice": {"seq": 2, "index": HUGE}},
    ],
)
def test_integers_beyond_a_database_column_are_refused(client: TestClient, frame: dict[str, Any]) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert refusal(ws, frame)["code"] == "number_out_of_range"
        assert say(ws, "hello there", "after")[0]["type"] == "ack"


def test_deeply_nested_json_is_refused_on_the_customer_socket(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        assert refusal(ws, DEEP)["code"] == "too_deep"
        nested = {
            "type": "message",
            "client_id": "c1",
            "text": "x",
            "choice": json.loads("[" * 20 + "]" * 20),
        }
        assert refusal(ws, nested)["code"] == "too_deep"
        # Brackets inside a string are text, not nesting.
        assert say(ws, "[" * 40 + " where is my order?", "c2")[0]["type"] == "ack"


def test_other_malformed_frames_get_their_own_codes(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        assert refusal(ws, {"type": "message", "client_id": "c1", "text": "hi"})["code"] == "hello_required"
        assert refusal(ws, {"type": "hello", "token": "t\ud800"})["code"] == "invalid_token"
        hello(ws)
        assert refusal(ws, "not json")["code"] == "invalid_json"
        assert refusal(ws, "[1, 2]")["code"] == "invalid_frame"
        assert refusal(ws, {"type": ["x"]})["code"] == "unknown_type"
        assert refusal(ws, {"type": "x\ud800"})["code"] == "unknown_type"
        assert refusal(ws, {"type": "message", "client_id": "c1"})["code"] == "missing_field"
        assert refusal(ws, {"type": "csat", "rating": 5, "comment": "great \udfff"})["code"] == "invalid_text"
        assert refusal(ws, {"type": "feedback", "seq": 1, "rating": "meh"})["code"] == "invalid_field"
        ws.send_bytes(b"\xff\xfe not utf-8")
        assert receive_within(ws)["code"] == "invalid_json"
        assert say(ws, "hello", "c9")[0]["type"] == "ack"


def test_the_staff_socket_refuses_deep_json_and_malformed_ids(
    client: TestClient, cheap_passwords: None
) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/staff", headers=agent.headers(csrf=False)) as ws:
        assert receive_within(ws)["type"] == "hello"
        for frame, code in [
            ("[" * 600 + "]" * 600, "too_deep"),
            (json.dumps({"type": "watch", "conversation_id": "x\ud800"}), "invalid_conversation_id"),
            (json.dumps({"type": "typing", "conversation_id": "'; drop table"}), "invalid_conversation_id"),
            (json.dumps({"type": 5}), "unknown_type"),
            ("{", "invalid_json"),
        ]:
            ws.send_text(frame)
            assert receive_within(ws)["code"] == code
        ws.send_text(json.dumps({"type": "ping"}))
        assert receive_within(ws) == {"type": "pong"}


def test_the_staff_api_refuses_out_of_range_numbers_with_422(
    client: TestClient, cheap_passwords: None
) -> None:
    headers = staff(client, "ann").headers()
    for url in (
        "/api/conversations?page=100000000000000000000",
        "/api/review-queue?page=100000000000000000000",
        "/api/conversations/00000000-0000-0000-0000-000000000000?after_seq=100000000000000000000",
        "/api/messages/100000000000000000000/labels",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 422, (url, response.text)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/conversations?q=a%00b", None),
        ("get", "/api/conversations/a%00b", None),
        ("post", "/api/messages/1/labels", '{"intent": "track\\u0000order"}'),
        ("post", "/api/messages/1/labels", '{"intent": "track\\ud800"}'),
        ("post", "/api/auth/login", '{"username": "ann\\u0000", "password": "x"}'),
        ("post", "/api/messages/1/labels", '{"intent": ' + "[" * 100 + "]" * 100 + "}"),
    ],
)
def test_text_no_database_can_store_is_refused_before_any_route(
    db_client: TestClient, cheap_passwords: None, method: str, url: str, body: str | None
) -> None:
    headers = {**staff(db_client, "ann").headers(), "content-type": "application/json"}
    response = db_client.request(method, url, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_text", "too_deep")
