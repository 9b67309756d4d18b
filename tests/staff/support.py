"""Helpers for staff tests: cheap password hashing, accounts and logins, seeded conversations."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import WebSocketTestSession

from bot.api.staff_deps import CSRF_HEADER, SESSION_COOKIE
from bot.db import chat_store
from bot.db.chat_store import StoredPrediction
from bot.db.models import Message
from bot.staff import accounts, passwords

PASSWORD = "correct horse battery staple"


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """argon2 at its cheapest, for speed; the production parameters are tested on their own."""
    passwords.use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    try:
        yield
    finally:
        passwords.use_hasher(PasswordHasher())


@pytest.fixture
def cheap_passwords() -> Iterator[None]:
    with cheap_hashing():
        yield


@dataclass(frozen=True)
class Login:
    username: str
    token: str
    csrf_token: str

    def headers(self, csrf: bool = True) -> dict[str, str]:
        headers = {"cookie": f"{SESSION_COOKIE}={self.token}"}
        if csrf:
            headers[CSRF_HEADER] = self.csrf_token
        return headers


def factory_of(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.services.session_factory  # type: ignore[attr-defined,no-any-return]


def create_staff(
    client: TestClient, username: str, role: str = "agent", display_name: str | None = None
) -> accounts.StaffIdentity:
    return accounts.create_user(factory_of(client), username, PASSWORD, role, display_name)


def login(client: TestClient, username: str, password: str = PASSWORD) -> Login:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token = response.cookies[SESSION_COOKIE]
    # Each login travels in explicit headers, so several staff members can share one client.
    client.cookies.clear()
    return Login(username, token, response.json()["csrf_token"])


def staff(client: TestClient, username: str, role: str = "agent", display_name: str | None = None) -> Login:
    create_staff(client, username, role, display_name)
    return login(client, username)


def prediction(intent: str, confidence: float, runner_up: float = 0.05, **extra: Any) -> StoredPrediction:
    return StoredPrediction(
        intent=intent,
        confidence=confidence,
        top_k=[
            {"intent": intent, "confidence": confidence},
            {"intent": "other_intent", "confidence": runner_up},
        ],
        out_of_scope=extra.pop("out_of_scope", False),
        adapter_version="default/v1",
        latency_ms=5.0,
        **extra,
    )


def new_conversation(factory: sessionmaker[Session]) -> str:
    conversation, _ = chat_store.open_conversation(factory, None)
    return conversation.id


def seed_turn(
    factory: sessionmaker[Session],
    conversation_id: str,
    text: str,
    intent: str = "track_order",
    confidence: float = 0.95,
    runner_up: float = 0.02,
    action: str = "answer",
    reply: str = "Here is what I found.",
) -> tuple[Message, Message]:
    """One customer turn and the bot's reply, with a prediction, as the chat would store them."""
    customer, _ = chat_store.add_customer_message(factory, conversation_id, uuid.uuid4().hex, text)
    payload = {
        "action": action,
        "intent": {"name": intent, "confidence": confidence},
        "suggestions": [],
        "sources": [],
    }
    bot = chat_store.add_bot_reply(
        factory,
        customer,
        reply,
        payload,
        [prediction(intent, confidence, runner_up, out_of_scope=action in ("knowledge", "offer_human"))],
    )
    return customer, bot


async def _receive(stream: Any, seconds: float) -> Any:
    with anyio.fail_after(seconds):
        return await stream.receive()


def receive_within(ws: WebSocketTestSession, seconds: float = 5.0) -> dict[str, Any]:
    """The next frame, or TimeoutError: a missing frame fails the test instead of hanging it.

    Starlette's test socket has no receive timeout, so this reads its stream directly.
    """
    message = ws.portal.call(_receive, ws._send_rx, seconds)
    ws._raise_on_close(message)
    return json.loads(message["text"])  # type: ignore[no-any-return]


def next_frame(ws: WebSocketTestSession, kind: str, seconds: float = 5.0, **match: Any) -> dict[str, Any]:
    """Skip frames until one of type ``kind`` whose fields equal ``match``."""
    deadline = time.monotonic() + seconds
    while True:
        frame = receive_within(ws, max(0.01, deadline - time.monotonic()))
        if frame.get("type") == kind and all(frame.get(key) == value for key, value in match.items()):
            return frame


def assert_quiet(ws: WebSocketTestSession, seconds: float = 0.3, ignore: tuple[str, ...] = ()) -> None:
    """No frame (other than ``ignore`` types) arrives for a while."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = receive_within(ws, left)
        except TimeoutError:
            return
        assert frame.get("type") in ignore, f"unexpected frame {frame}"
