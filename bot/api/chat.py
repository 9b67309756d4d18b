"""WebSocket ``/ws/chat``: the customer widget's protocol.

Client frames: ``hello`` (token, last_seq, optional customer_id and context), ``message``
(client_id, text, optional choice), ``feedback`` (seq, rating), ``csat`` (rating 1-5, comment),
``typing`` (at most one per 2 s) and ``end`` (the customer ends the conversation). Server frames: ``welcome``,
``message``, ``ack``, ``feedback_ok``, ``csat_ok``, ``error``, and live from staff: ``status``
(state, agent_name), ``typing`` and ``message`` with role ``agent``. A refused frame gets an
``error`` frame with a stable ``code`` (the README's protocol table lists them) and the socket
stays open; a frame larger than the configured limit closes it with code 1009.

Every acknowledged message gets exactly one answer: a ``hello`` that resumes a conversation
also answers the messages a dead process acknowledged but never answered.

This module only parses: each turn is run by the chat layer (``bot.chat.turns.CustomerChat``),
which emits the server frames (``bot.wire.customer``) that ``SocketPort`` sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, Field
from starlette.types import Message as AsgiEvent

from bot.api.deps import services_of
from bot.api.frames import (
    CLIENT_ID_PATTERN,
    MAX_INT,
    TOKEN_PATTERN,
    frame_type,
    parse_frame,
    unknown_type,
    validate,
)
from bot.api.visitor_limits import REFUSALS_CLOSE, SocketLimits, visitor_limits_of
from bot.chat.conversation import ConversationService
from bot.chat.customer_context import CustomerContext, valid_customer_id
from bot.chat.hub import Hub, InboxOverflow
from bot.chat.turns import ChoiceRef, CustomerChat
from bot.db.csat import MAX_COMMENT_CHARS
from bot.errors import Refusal, TooManyRequests
from bot.wire.customer import CustomerFrame, ErrorFrame
from bot.wire.enums import Rating

logger = logging.getLogger(__name__)
router = APIRouter()
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class HelloFrame(BaseModel):
    token: str | None = Field(default=None, pattern=TOKEN_PATTERN)
    last_seq: int | None = Field(default=None, ge=0, le=MAX_INT)
    # Where the customer chats from: checked leniently (an odd value is dropped, never refused:
    # a page with a very long address must still be able to chat).
    customer_id: Any = None
    context: Any = None


class ChoiceField(BaseModel):
    seq: int = Field(ge=1, le=MAX_INT)
    index: int = Field(ge=0, le=100)


class MessageFrame(BaseModel):
    client_id: str = Field(pattern=CLIENT_ID_PATTERN)
    text: str
    choice: ChoiceField | None = None


class FeedbackFrame(BaseModel):
    seq: int = Field(ge=1, le=MAX_INT)
    rating: Rating


class CsatFrame(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


class SocketPort:
    """The chat layer's output port on a WebSocket: each frame as one JSON text message."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        # The turn and the live relay send concurrently; one frame at a time on the socket.
        self.send_lock = asyncio.Lock()

    async def send(self, frame: CustomerFrame) -> None:
        async with self.send_lock:
            await self.websocket.send_json(frame.wire())


class ChatConnection:
    """One customer's socket: parses each frame and calls the chat layer (``CustomerChat``).

    A new client frame: its model above, a branch in ``handle``, and the operation it calls on
    ``CustomerChat`` (which emits whatever the customer should see)."""

    def __init__(
        self,
        websocket: WebSocket,
        service: ConversationService,
        max_chars: int,
        hub: Hub | None = None,
        limits: SocketLimits | None = None,
    ) -> None:
        self.port = SocketPort(websocket)
        self.chat = CustomerChat(service, hub or Hub(), self.port, max_chars, limits)

    async def send(self, frame: CustomerFrame) -> None:
        await self.port.send(frame)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame_type(frame)
        if kind == "hello":
            hello = validate(HelloFrame, frame)
            await self.chat.hello(hello.token, hello.last_seq)
            customer_id = hello.customer_id if isinstance(hello.customer_id, str) else None
            await self.chat.remember_customer(
                valid_customer_id(customer_id), CustomerContext.lenient(hello.context)
            )
        elif kind == "message":
            message = validate(MessageFrame, frame)
            choice = ChoiceRef(message.choice.seq, message.choice.index) if message.choice else None
            await self.chat.message(message.client_id, message.text, choice)
        elif kind == "feedback":
            feedback = validate(FeedbackFrame, frame)
            await self.chat.feedback(feedback.seq, feedback.rating)
        elif kind == "csat":
            csat = validate(CsatFrame, frame)
            await self.chat.csat(csat.rating, csat.comment)
        elif kind == "typing":
            await self.chat.typing()
        elif kind == "end":
            await self.chat.end()
        else:
            raise unknown_type(kind)

    async def forward_live_events(self) -> None:
        """Staff messages, typing and status changes to the widget until the socket goes."""
        with contextlib.suppress(InboxOverflow, WebSocketDisconnect, RuntimeError, OSError):
            await self.chat.relay_live_events()


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    services = services_of(websocket)
    settings = services.settings
    await websocket.accept()
    limits = visitor_limits_of(websocket).for_socket(websocket.client.host if websocket.client else "")
    connection = ChatConnection(
        websocket, services.conversations, settings.max_message_chars, services.hub, limits
    )
    forwarder = asyncio.create_task(connection.forward_live_events())
    try:
        while True:
            said_hello = connection.chat.said_hello
            event = await _receive_within(websocket, limits.receive_timeout(said_hello))
            if event is None:
                code, reason = limits.timeout_close(said_hello)
                logger.info("customer socket from %s closed: %s", limits.address, reason)
                await websocket.close(code=code, reason=reason)
                return
            if event["type"] == "websocket.disconnect":
                return
            raw = event.get("text") if event.get("text") is not None else event.get("bytes")
            if (
                raw is not None
                and len(raw.encode() if isinstance(raw, str) else raw) > settings.max_frame_bytes
            ):
                await websocket.close(code=status.WS_1009_MESSAGE_TOO_BIG)
                return
            await _handle_raw(connection, raw)
            if limits.exhausted:
                logger.info("customer socket from %s closed: kept sending past refusals", limits.address)
                await websocket.close(code=REFUSALS_CLOSE, reason="too many refused messages")
                return
    except WebSocketDisconnect:
        return
    finally:
        forwarder.cancel()
        connection.chat.close()


async def _receive_within(websocket: WebSocket, seconds: float) -> AsgiEvent | None:
    """The next ASGI event, or None when none came within ``seconds``."""
    with anyio.move_on_after(seconds):
        return await websocket.receive()
    return None


async def _handle_raw(connection: ChatConnection, raw: str | bytes | None) -> None:
    frame: dict[str, Any] | None = None
    try:
        frame = parse_frame(raw)
        await connection.handle(frame)
    except Refusal as refusal:
        await connection.send(error_frame(refusal, frame))


def error_frame(refusal: Refusal, frame: dict[str, Any] | None) -> ErrorFrame:
    retry_after = round(refusal.retry_after, 1) if isinstance(refusal, TooManyRequests) else None
    # Naming the refused message lets the widget mark it undelivered instead of resending it;
    # only a well-formed id is echoed (a lone surrogate could not even be sent back).
    client_id = frame.get("client_id") if frame is not None else None
    if not (isinstance(client_id, str) and _CLIENT_ID.match(client_id)):
        client_id = None
    return ErrorFrame(code=refusal.code, detail=refusal.detail, retry_after=retry_after, client_id=client_id)
