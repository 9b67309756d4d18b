"""WebSocket ``/ws/chat``: the customer widget's protocol.

Client frames: ``hello`` (token, last_seq), ``message`` (client_id, text, optional choice),
``feedback`` (seq, rating), ``csat`` (rating 1-5, comment). Server frames: ``welcome``,
``message``, ``ack``, ``feedback_ok``, ``csat_ok``, ``error``, and live from staff: ``status``
(state, agent_name), ``typing`` and ``message`` with role ``agent``. A bad frame gets an
``error`` and the socket stays open; a frame larger than the configured limit closes it with
code 1009.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, Field, ValidationError

from bot.api.deps import services_of
from bot.chat.conversation import Choice, ConversationService
from bot.chat.hub import Event, Hub, Inbox, InboxOverflow, conversation_topic
from bot.chat.live import publish_csat, publish_message, publish_status
from bot.db.chat_store import ChatStoreError
from bot.db.csat import MAX_COMMENT_CHARS, record_csat
from bot.db.models import Message
from bot.staff.handoff import agent_name

router = APIRouter()
FrameT = TypeVar("FrameT", bound=BaseModel)


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class HelloFrame(BaseModel):
    token: str | None = Field(default=None, max_length=200)
    last_seq: int | None = Field(default=None, ge=0)


class ChoiceField(BaseModel):
    seq: int = Field(ge=1)
    index: int = Field(ge=0)


class MessageFrame(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    text: str
    choice: ChoiceField | None = None


class FeedbackFrame(BaseModel):
    seq: int = Field(ge=1)
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
        self, websocket: WebSocket, service: ConversationService, max_chars: int, hub: Hub | None = None
    ) -> None:
        self.websocket = websocket
        self.service = service
        self.max_chars = max_chars
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
        kind = frame.get("type")
        if kind == "hello":
            await self.hello(_parse(HelloFrame, frame))
        elif kind == "message":
            await self.message(_parse(MessageFrame, frame))
        elif kind == "feedback":
            await self.feedback(_parse(FeedbackFrame, frame))
        elif kind == "csat":
            await self.csat(_parse(CsatFrame, frame))
        else:
            raise ProtocolError("unknown_type", f"unknown frame type {kind!r}")

    async def hello(self, hello: HelloFrame) -> None:
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
            await self.send(message_frame(message))
        if self.status != "bot":
            name = await to_thread.run_sync(agent_name, self.service.factory, resumed.conversation.id)
            await self.send({"type": "status", "state": self.status, "agent_name": name})

    def follow(self, conversation_id: str) -> None:
        if self.conversation_id is not None:
            self.hub.unsubscribe(conversation_topic(self.conversation_id), self.inbox)
        self.conversation_id = conversation_id
        self.hub.subscribe(conversation_topic(conversation_id), self.inbox)

    async def message(self, frame: MessageFrame) -> None:
        conversation_id = self._require_conversation()
        text = frame.text.strip()
        if not text:
            raise ProtocolError("empty_text", "the message text is empty")
        if len(text) > self.max_chars:
            raise ProtocolError(
                "text_too_long",
                f"the message has {len(text)} characters; the limit is {self.max_chars}",
            )
        choice: Choice | None = None
        if frame.choice is not None:
            choice = await self.service.resolve_choice(conversation_id, frame.choice.seq, frame.choice.index)
        # A typed message goes to the model while it is being committed (a clicked suggestion
        # needs no model), so the reply waits for one commit instead of two.
        thinking = self.service.start_thinking(text) if choice is None else None
        try:
            stored, is_new = await self.service.store_customer_message(conversation_id, frame.client_id, text)
            await self.send({"type": "ack", "client_id": frame.client_id, "seq": stored.seq})
            reply = await self.service.answer(stored, choice, thinking)
        finally:
            self.service.forget(thinking)
        # Staff see the customer's turn once its prediction (shown or shadow) is stored.
        if is_new:
            publish_message(self.hub, stored, origin=self.inbox, live=self.is_live())
        if reply is None:
            return
        await self.send({**message_frame(reply), "reply_to": stored.seq})
        if is_new:
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
        await to_thread.run_sync(
            record_csat, self.service.factory, conversation_id, frame.rating, frame.comment
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
            raise ProtocolError("hello_required", "send a hello frame first")
        return self.conversation_id


def _parse(model: type[FrameT], frame: dict[str, Any]) -> FrameT:
    try:
        return model.model_validate(frame)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        code = "missing_field" if first["type"] == "missing" else "invalid_field"
        raise ProtocolError(code, f"{where}: {first['msg']}") from error


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    services = services_of(websocket)
    settings = services.settings
    await websocket.accept()
    connection = ChatConnection(websocket, services.conversations, settings.max_message_chars, services.hub)
    forwarder = asyncio.create_task(connection.forward_live_events())
    try:
        while True:
            event = await websocket.receive()
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
    except WebSocketDisconnect:
        return
    finally:
        forwarder.cancel()
        services.hub.unsubscribe_all(connection.inbox)


async def _handle_raw(connection: ChatConnection, raw: str | bytes | None) -> None:
    frame: Any = None
    try:
        try:
            frame = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError) as error:
            raise ProtocolError("invalid_json", "the frame is not valid JSON") from error
        if not isinstance(frame, dict):
            raise ProtocolError("invalid_frame", "a frame must be a JSON object")
        await connection.handle(frame)
    except (ProtocolError, ChatStoreError) as error:
        reply: dict[str, Any] = {"type": "error", "code": error.code, "detail": error.detail}
        # Naming the rejected message lets the widget mark it undelivered instead of resending it.
        client_id = frame.get("client_id") if isinstance(frame, dict) else None
        if isinstance(client_id, str):
            reply["client_id"] = client_id
        await connection.send(reply)
