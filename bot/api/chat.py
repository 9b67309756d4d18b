"""WebSocket ``/ws/chat``: the customer widget's protocol.

Client frames: ``hello`` (token, last_seq), ``message`` (client_id, text, optional choice),
``feedback`` (seq, rating), ``csat`` (rating 1-5, comment). Server frames: ``welcome``,
``message``, ``ack``, ``feedback_ok``, ``csat_ok``, ``error``, and live from staff: ``status``
(state, agent_name), ``typing`` and ``message`` with role ``agent``. A refused frame gets an
``error`` frame with a stable ``code`` (the README's protocol table lists them) and the socket
stays open; a frame larger than the configured limit closes it with code 1009.

Every acknowledged message gets exactly one answer: a ``hello`` that resumes a conversation
also answers the messages a dead process acknowledged but never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import anyio
from anyio import to_thread
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
from bot.chat.conversation import Answered, Choice, ConversationService
from bot.chat.hub import Event, Hub, Inbox, InboxOverflow, conversation_topic
from bot.chat.live import publish_csat, publish_message, publish_status
from bot.chat.text_rules import customer_text, is_valid_text
from bot.db import chat_store
from bot.db.csat import MAX_COMMENT_CHARS, record_csat
from bot.db.models import Message
from bot.errors import InvalidInput, Refusal, TooManyRequests
from bot.staff.handoff import agent_name

logger = logging.getLogger(__name__)
router = APIRouter()
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class HelloFrame(BaseModel):
    token: str | None = Field(default=None, pattern=TOKEN_PATTERN)
    last_seq: int | None = Field(default=None, ge=0, le=MAX_INT)


class ChoiceField(BaseModel):
    seq: int = Field(ge=1, le=MAX_INT)
    index: int = Field(ge=0, le=100)


class MessageFrame(BaseModel):
    client_id: str = Field(pattern=CLIENT_ID_PATTERN)
    text: str
    choice: ChoiceField | None = None


class FeedbackFrame(BaseModel):
    seq: int = Field(ge=1, le=MAX_INT)
    rating: str = Field(pattern="^(up|down)$")


class CsatFrame(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


def message_frame(message: Message) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "message",
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
    payload = message.payload or {}
    if message.role == "user":
        frame["client_id"] = message.client_id
    elif message.role == "bot":
        frame["intent"] = payload.get("intent")
        frame["suggestions"] = [s["title"] for s in payload.get("suggestions", [])]
        frame["sources"] = payload.get("sources", [])
        frame["action"] = payload.get("action")
    elif message.role == "agent":
        frame["agent_name"] = payload.get("agent_name")
    return frame


class ChatConnection:
    """One customer's socket: parses frames and drives the conversation service."""

    def __init__(
        self,
        websocket: WebSocket,
        service: ConversationService,
        max_chars: int,
        hub: Hub | None = None,
        limits: SocketLimits | None = None,
    ) -> None:
        self.websocket = websocket
        self.service = service
        self.max_chars = max_chars
        # What this visitor may still do (messages, new conversations); None: unlimited.
        self.limits = limits
        self.conversation_id: str | None = None
        self.status: str | None = None
        # Staff messages, typing and status changes for this conversation arrive here.
        self.hub = hub or Hub()
        self.inbox = Inbox()
        self.send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_json(frame)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame_type(frame)
        if kind == "hello":
            await self.hello(validate(HelloFrame, frame))
        elif kind == "message":
            await self.message(validate(MessageFrame, frame))
        elif kind == "feedback":
            await self.feedback(validate(FeedbackFrame, frame))
        elif kind == "csat":
            await self.csat(validate(CsatFrame, frame))
        else:
            raise unknown_type(kind)

    async def hello(self, hello: HelloFrame) -> None:
        if self.limits is not None:
            await self.limits.admit_hello()
            if not await to_thread.run_sync(chat_store.token_is_known, self.service.factory, hello.token):
                await self.limits.admit_new_conversation()
        resumed = await self.service.resume(hello.token, hello.last_seq)
        self.follow(resumed.conversation.id)
        self.status = resumed.conversation.status
        await self.send(
            {
                "type": "welcome",
                "conversation_id": resumed.conversation.id,
                "token": resumed.token,
                "seq": resumed.backlog[-1].seq if resumed.backlog else resumed.conversation.last_seq,
                "status": resumed.conversation.status,
            }
        )
        for message in resumed.backlog:
            frame = message_frame(message)
            if message.id in resumed.reply_to_seq:
                frame["reply_to"] = resumed.reply_to_seq[message.id]
            await self.send(frame)
        if self.status != "bot":
            name = await to_thread.run_sync(agent_name, self.service.factory, resumed.conversation.id)
            await self.send({"type": "status", "state": self.status, "agent_name": name})
        await self.answer_unanswered(resumed.conversation.id)

    async def answer_unanswered(self, conversation_id: str) -> None:
        """Answer what a dead process acknowledged but never answered. While a person holds the
        conversation they stay for the agent, who sees them as the latest customer messages."""
        if self.is_live():
            return
        for stored in await self.service.unanswered_turns(conversation_id):
            # Staff may never have seen the turn: the process died before publishing it.
            await self.deliver(stored, await self.service.answer(stored), customer_new=True)

    def follow(self, conversation_id: str) -> None:
        if self.conversation_id is not None:
            self.hub.unsubscribe(conversation_topic(self.conversation_id), self.inbox)
        self.conversation_id = conversation_id
        self.hub.subscribe(conversation_topic(conversation_id), self.inbox)

    async def message(self, frame: MessageFrame) -> None:
        conversation_id = self._require_conversation()
        text = customer_text(frame.text, self.max_chars)
        choice: Choice | None = None
        if frame.choice is not None:
            choice = await self.service.resolve_choice(conversation_id, frame.choice.seq, frame.choice.index)
        if self.limits is not None:
            # Before anything is stored or computed: a refused message costs no model pass.
            await self.limits.admit_message(conversation_id, text)
        # A typed message goes to the model while it is being committed (a clicked suggestion
        # needs no model), so the reply waits for one commit instead of two.
        thinking = self.service.start_thinking(text) if choice is None else None
        try:
            stored, is_new = await self.service.store_customer_message(conversation_id, frame.client_id, text)
            await self.send({"type": "ack", "client_id": frame.client_id, "seq": stored.seq})
            answered = await self.service.answer(stored, choice, thinking)
        finally:
            self.service.forget(thinking)
        await self.deliver(stored, answered, customer_new=is_new)

    async def deliver(self, stored: Message, answered: Answered, customer_new: bool) -> None:
        """Send the reply to this socket; staff and the customer's other sockets hear of new rows."""
        # Staff see the customer's turn once its prediction (shown or shadow) is stored.
        if customer_new:
            publish_message(self.hub, stored, origin=self.inbox, live=self.is_live())
        reply = answered.reply
        if reply is None:
            return
        await self.send({**message_frame(reply), "reply_to": stored.seq})
        if answered.created:
            publish_message(self.hub, reply, origin=self.inbox, live=self.is_live())
            self.announce_status(reply)
            await self.service.record_shadow(stored)

    def is_live(self) -> bool:
        return self.status in ("waiting", "agent")

    def announce_status(self, reply: Message) -> None:
        """The reply may have changed the conversation's state; tell both sides."""
        if (reply.payload or {}).get("action") == "handoff":
            publish_status(self.hub, reply.conversation_id, "waiting")
        elif self.status == "closed":
            publish_status(self.hub, reply.conversation_id, "bot")

    async def feedback(self, frame: FeedbackFrame) -> None:
        conversation_id = self._require_conversation()
        await self.service.feedback(conversation_id, frame.seq, frame.rating)
        await self.send({"type": "feedback_ok", "seq": frame.seq})

    async def csat(self, frame: CsatFrame) -> None:
        conversation_id = self._require_conversation()
        if not is_valid_text(frame.comment):
            raise InvalidInput(
                "invalid_text", "the comment contains characters that are not valid Unicode text"
            )
        await to_thread.run_sync(
            record_csat,
            self.service.factory,
            conversation_id,
            frame.rating,
            self.service.stored_text(frame.comment),
        )
        await self.send({"type": "csat_ok", "rating": frame.rating})
        publish_csat(self.hub, conversation_id, frame.rating)

    async def forward_live_events(self) -> None:
        """Staff messages, typing and status changes to the widget, as they happen."""
        with contextlib.suppress(InboxOverflow, WebSocketDisconnect, RuntimeError, OSError):
            while True:
                frame = self.customer_frame(await self.inbox.get())
                if frame is not None:
                    await self.send(frame)

    def customer_frame(self, event: Event) -> dict[str, Any] | None:
        data = event.data
        if event.type == "status":
            self.status = data["state"]
            return {"type": "status", "state": data["state"], "agent_name": data.get("agent_name")}
        if event.type == "typing":
            return {"type": "typing", "role": "agent", "agent_name": data.get("agent_name")}
        if event.type == "message" and data.get("role") == "agent":
            fields = ("seq", "role", "text", "created_at", "agent_name")
            return {"type": "message", **{name: data.get(name) for name in fields}}
        return None

    def _require_conversation(self) -> str:
        if self.conversation_id is None:
            raise InvalidInput("hello_required", "send a hello frame first")
        return self.conversation_id


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
            said_hello = connection.conversation_id is not None
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
        services.hub.unsubscribe_all(connection.inbox)


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


def error_frame(refusal: Refusal, frame: dict[str, Any] | None) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": "error", "code": refusal.code, "detail": refusal.detail}
    if isinstance(refusal, TooManyRequests):
        reply["retry_after"] = round(refusal.retry_after, 1)
    # Naming the refused message lets the widget mark it undelivered instead of resending it;
    # only a well-formed id is echoed (a lone surrogate could not even be sent back).
    client_id = frame.get("client_id") if frame is not None else None
    if isinstance(client_id, str) and _CLIENT_ID.match(client_id):
        reply["client_id"] = client_id
    return reply
