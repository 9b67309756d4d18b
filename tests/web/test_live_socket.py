"""The frame limit on the real server: uvicorn's WebSocket layer, which TestClient bypasses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.config import Settings


@contextmanager
def open_chat(base_url: str) -> Iterator[ClientConnection]:
    with connect(base_url.replace("http://", "ws://") + "/ws/chat", max_size=None, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "token": None, "last_seq": None}))
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        yield ws


def message(text: str) -> str:
    return json.dumps({"type": "message", "client_id": "c", "text": text})


def test_frame_over_the_limit_closes_the_real_socket_with_1009(live_server: str, settings: Settings) -> None:
    with open_chat(live_server) as ws:
        ws.send(message("a" * settings.max_frame_bytes))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_frame_under_the_limit_with_too_long_text_gets_an_error(live_server: str) -> None:
    with open_chat(live_server) as ws:
        ws.send(message("a" * 5000))
        error = json.loads(ws.recv(timeout=10))
        assert (error["type"], error["code"]) == ("error", "text_too_long")
        ws.send(message("where is my parcel"))
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"
        assert json.loads(ws.recv(timeout=10))["role"] == "bot"
