"""WebSocket ``/ws/staff``: live updates for the console.

The handshake needs a live staff session cookie and a same-site ``Origin``; otherwise it is
refused before it opens. Server frames: ``hello`` (the user), ``status`` (a conversation's
state changed: the waiting queue), ``activity`` (a conversation got a message), and for the
conversation being watched ``message``, ``typing`` and ``csat`` (the hub's typed events,
``bot.wire.live``, each sent as its ``frame()``). Client frames: ``watch``
(conversation_id, or null to stop), ``typing`` (conversation_id; only for the agent who holds
it) and ``ping``. The socket closes with 4401 when the session ends (logout, expiry, the
account disabled) and 4408 when it falls too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from bot.api.auth import user_view
from bot.api.deps import services_of
from bot.api.frames import UUID_PATTERN, frame_type, parse_frame, unknown_type, validate
from bot.api.staff_deps import origin_allowed, session_of
from bot.chat.hub import STAFF_TOPIC, Hub, Inbox, InboxOverflow, conversation_topic, session_topic, user_topic
from bot.db.models import utcnow
from bot.errors import InvalidInput, Refusal
from bot.staff import sessions
from bot.staff.live_desk import LiveDesk
from bot.wire.customer import ErrorFrame

if TYPE_CHECKING:
    from bot.services import Services

router = APIRouter()

SESSION_ENDED = 4401
FELL_BEHIND = 4408
# Also re-check the session this often: another process (the CLI) may have disabled the account.
RECHECK_SECONDS = 30.0
MAX_FRAME_BYTES = 4096


class WatchFrame(BaseModel):
    conversation_id: str | None = Field(default=None, pattern=UUID_PATTERN)


class TypingFrame(BaseModel):
    conversation_id: str = Field(pattern=UUID_PATTERN)


class StaffConnection:
    def __init__(self, websocket: WebSocket, services: Services, session: sessions.SessionInfo) -> None:
        self.websocket = websocket
        self.services = services
        self.session = session
        self.hub: Hub = services.hub
        self.inbox = Inbox()
        self.watching: str | None = None
        self.send_lock = asyncio.Lock()

    def subscribe(self) -> None:
        for topic in (STAFF_TOPIC, session_topic(self.session.id), user_topic(self.session.user.id)):
            self.hub.subscribe(topic, self.inbox)

    def unsubscribe(self) -> None:
        self.hub.unsubscribe_all(self.inbox)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_json(frame)

    async def forward_events(self) -> None:
        """Hub events to the browser until the session ends or the socket falls behind."""
        try:
            while True:
                event = await self.inbox.get()
                if event.type == "logout":
                    await self.websocket.close(SESSION_ENDED)
                    return
                await self.send(event.frame())
        except InboxOverflow:
            await self.websocket.close(FELL_BEHIND)

    async def watch_session(self) -> None:
        """Close the socket when the session expires or stops being valid."""
        factory = self.services.session_factory
        while True:
            remaining = (self.session.expires_at - utcnow()).total_seconds()
            await asyncio.sleep(max(0.0, min(remaining, RECHECK_SECONDS)))
            if await to_thread.run_sync(sessions.session_by_id, factory, self.session.id) is None:
                await self.websocket.close(SESSION_ENDED)
                return

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame_type(frame)
        if kind == "watch":
            self.watch(validate(WatchFrame, frame).conversation_id)
        elif kind == "typing":
            typing = validate(TypingFrame, frame)
            desk = LiveDesk(self.services.session_factory, self.hub)
            await desk.typing(typing.conversation_id, self.session.user)
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            raise unknown_type(kind)

    def watch(self, conversation_id: str | None) -> None:
        if self.watching is not None:
            self.hub.unsubscribe(conversation_topic(self.watching), self.inbox)
        self.watching = conversation_id
        if conversation_id is not None:
            self.hub.subscribe(conversation_topic(conversation_id), self.inbox)


@router.websocket("/ws/staff")
async def staff_socket(websocket: WebSocket) -> None:
    services = services_of(websocket)
    session = await to_thread.run_sync(session_of, websocket)
    if session is None or not origin_allowed(websocket, services.settings):
        # Closing before accepting refuses the handshake (HTTP 403).
        await websocket.close(SESSION_ENDED)
        return
    await websocket.accept()
    connection = StaffConnection(websocket, services, session)
    connection.subscribe()
    background = [
        asyncio.create_task(_until_closed(connection.forward_events())),
        asyncio.create_task(_until_closed(connection.watch_session())),
    ]
    try:
        await connection.send({"type": "hello", "user": user_view(session.user)})
        await _receive(connection)
    except WebSocketDisconnect:
        pass
    finally:
        connection.unsubscribe()
        for task in background:
            task.cancel()


async def _until_closed(job: Coroutine[Any, Any, None]) -> None:
    # Sending on a socket the browser has just closed fails; the receive loop ends the connection.
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await job


async def _receive(connection: StaffConnection) -> None:
    while True:
        event = await connection.websocket.receive()
        if event["type"] == "websocket.disconnect":
            return
        raw = event.get("text") or event.get("bytes") or b""
        try:
            if len(raw) > MAX_FRAME_BYTES:
                raise InvalidInput("frame_too_large", f"a staff frame has at most {MAX_FRAME_BYTES} bytes")
            await connection.handle(parse_frame(raw))
        except Refusal as refusal:
            await connection.send(ErrorFrame(code=refusal.code, detail=refusal.detail).wire())
