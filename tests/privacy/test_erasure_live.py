"""A customer still connected when their conversation is erased gets a clear refusal, not a crash."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from bot.privacy.erasure import erase_conversations
from tests.staff.support import factory_of


def frame_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = ws.receive_json()
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


def test_a_message_into_an_erased_conversation_is_refused_and_the_token_starts_afresh(
    client: TestClient,
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "token": None, "last_seq": None})
        welcome = frame_of(ws, "welcome")
        ws.send_json({"type": "message", "client_id": "a", "text": "where is my parcel?"})
        frame_of(ws, "message")
        erase_conversations(factory_of(client), [welcome["conversation_id"]], actor="test")

        ws.send_json({"type": "message", "client_id": "b", "text": "hello again"})
        refused = frame_of(ws, "error")
        ws.send_json({"type": "hello", "token": welcome["token"], "last_seq": 2})
        fresh = frame_of(ws, "welcome")

    assert (refused["code"], refused["client_id"]) == ("unknown_conversation", "b")
    assert fresh["conversation_id"] != welcome["conversation_id"] and fresh["seq"] == 0
