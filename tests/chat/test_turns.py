"""The chat layer's customer turn, driven without a socket: a port that collects the frames.

The app (real model, SQLite) runs under a TestClient only so that its services and event loop
exist; the turn is called directly in that loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from bot.chat.hub import STAFF_TOPIC, Inbox
from bot.chat.live import publish_message, publish_status
from bot.chat.turns import CustomerChat
from bot.db import chat_store
from bot.services import Services
from bot.wire.customer import AckFrame, CustomerFrame, MessageFrame, StatusFrame, WelcomeFrame
from bot.wire.enums import ConversationStatus, ReplyAction, Role
from bot.wire.live import LiveEvent, MessageEvent, StatusEvent
from bot.wire.messages import ChatMessage

T = TypeVar("T")
HANDOFF_TEXT = "i want to talk to a real human please"


class CollectingPort:
    """The output port of a test: every frame, in order."""

    def __init__(self) -> None:
        self.frames: list[CustomerFrame] = []

    async def send(self, frame: CustomerFrame) -> None:
        self.frames.append(frame)

    def of(self, kind: type[T]) -> list[T]:
        return [frame for frame in self.frames if isinstance(frame, kind)]


def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def in_app(client: TestClient, scenario: Callable[[], Awaitable[T]]) -> T:
    assert client.portal is not None
    return client.portal.call(scenario)


def pending(inbox: Inbox) -> list[LiveEvent]:
    events = []
    while not inbox._queue.empty():
        events.append(inbox._queue.get_nowait())
    return events


async def open_chat(found: Services) -> tuple[CustomerChat, CollectingPort]:
    port = CollectingPort()
    chat = CustomerChat(found.conversations, found.hub, port, found.settings.max_message_chars)
    await chat.hello(None, None)
    return chat, port


def test_a_turn_is_acknowledged_before_it_is_answered(client: TestClient) -> None:
    found = services(client)

    async def scenario() -> Any:
        chat, port = await open_chat(found)
        await chat.message("m1", "where is my order?")
        return chat, port

    chat, port = in_app(client, scenario)
    kinds = [type(frame) for frame in port.frames]
    assert kinds == [WelcomeFrame, AckFrame, MessageFrame]
    ack, reply = port.frames[1], port.frames[2]
    assert isinstance(ack, AckFrame) and isinstance(reply, MessageFrame)
    assert (ack.client_id, reply.reply_to, reply.message.role) == ("m1", ack.seq, Role.BOT)
    assert reply.message.seq == ack.seq + 1
    assert chat.status == ConversationStatus.BOT


def test_a_handoff_reply_moves_the_conversation_to_waiting_once_for_everyone(client: TestClient) -> None:
    found = services(client)
    staff = Inbox()
    found.hub.subscribe(STAFF_TOPIC, staff)

    async def scenario() -> Any:
        chat, port = await open_chat(found)
        await chat.message("m1", HANDOFF_TEXT)
        return chat, port

    try:
        chat, port = in_app(client, scenario)
    finally:
        found.hub.unsubscribe_all(staff)
    reply = port.of(MessageFrame)[-1]
    assert reply.message.action == ReplyAction.HANDOFF
    assert port.of(StatusFrame) == [StatusFrame(state=ConversationStatus.WAITING)]
    assert port.frames[-1] == StatusFrame(state=ConversationStatus.WAITING)  # after the reply
    statuses = [event for event in pending(staff) if isinstance(event, StatusEvent)]
    assert [event.state for event in statuses] == [ConversationStatus.WAITING]
    assert chat.status == ConversationStatus.WAITING
    assert chat_store.get_conversation(found.session_factory, chat.conversation_id).status == "waiting"


def test_a_reply_in_a_closed_conversation_reopens_it_with_the_bot(client: TestClient) -> None:
    found = services(client)
    staff = Inbox()

    async def scenario() -> Any:
        chat, port = await open_chat(found)
        assert chat.conversation_id is not None
        chat_store.set_status(found.session_factory, chat.conversation_id, "closed")
        chat.status = ConversationStatus.CLOSED
        found.hub.subscribe(STAFF_TOPIC, staff)
        await chat.message("m1", "where is my order?")
        return chat, port

    try:
        chat, port = in_app(client, scenario)
    finally:
        found.hub.unsubscribe_all(staff)
    assert port.of(StatusFrame) == [StatusFrame(state=ConversationStatus.BOT)]
    assert [e.state for e in pending(staff) if isinstance(e, StatusEvent)] == [ConversationStatus.BOT]
    assert chat.status == ConversationStatus.BOT


def test_a_retry_gets_the_stored_reply_and_nobody_hears_of_it_twice(client: TestClient) -> None:
    found = services(client)
    other_socket = Inbox()

    async def scenario() -> Any:
        chat, port = await open_chat(found)
        assert chat.conversation_id is not None
        found.hub.subscribe(f"conversation:{chat.conversation_id}", other_socket)
        await chat.message("m1", HANDOFF_TEXT)
        first = list(port.frames)
        heard = pending(other_socket)
        await chat.message("m1", HANDOFF_TEXT)
        await asyncio.sleep(0)
        return first, port.frames[len(first) :], heard, pending(other_socket)

    try:
        first, again, heard_first, heard_again = in_app(client, scenario)
    finally:
        found.hub.unsubscribe_all(other_socket)
    first_ack, first_reply = first[1], first[2]
    assert isinstance(first_reply, MessageFrame)
    # The same ack and the same reply; no second status change.
    assert [type(frame) for frame in again] == [AckFrame, MessageFrame]
    assert again[0] == first_ack
    assert isinstance(again[1], MessageFrame) and again[1].reply_to == first_reply.reply_to
    # (The time read back from SQLite has lost its zone; the moment is the same.)
    assert again[1].message.model_dump(exclude={"created_at"}) == first_reply.message.model_dump(
        exclude={"created_at"}
    )
    assert [type(e) for e in heard_first] == [MessageEvent, MessageEvent, StatusEvent]
    assert heard_again == []


def test_an_agent_message_from_the_hub_reaches_the_customer_as_a_message_frame(client: TestClient) -> None:
    found = services(client)

    async def scenario() -> Any:
        chat, port = await open_chat(found)
        assert chat.conversation_id is not None
        await chat.message("m1", HANDOFF_TEXT)
        staff = found.hub
        publish_status(staff, chat.conversation_id, ConversationStatus.AGENT, "Ann")
        agent_line = ChatMessage(
            id=10_000,
            conversation_id=chat.conversation_id,
            seq=3,
            role=Role.AGENT,
            text="Hi, Ann here",
            created_at=port.frames[2].message.created_at,  # type: ignore[union-attr]
            agent_name="Ann",
        )
        publish_message(staff, agent_line)
        relay = asyncio.create_task(chat.relay_live_events())
        for _ in range(100):
            if len(port.frames) >= 6:
                break
            await asyncio.sleep(0.01)
        relay.cancel()
        return chat, port

    chat, port = in_app(client, scenario)
    status, message = port.frames[-2:]
    assert status == StatusFrame(state=ConversationStatus.AGENT, agent_name="Ann")
    assert isinstance(message, MessageFrame)
    assert set(message.wire()) == {"type", "seq", "role", "text", "created_at", "agent_name"}
    assert message.wire()["agent_name"] == "Ann"
    assert chat.status == ConversationStatus.AGENT
