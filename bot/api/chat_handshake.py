"""Who may open a customer socket: refused at the handshake (HTTP 403) before the app accepts it.

- ``BOT_WIDGET_ALLOWED_ORIGINS``: when set, only pages from those origins (and this server's own
  demo page) may open ``/ws/chat``, so other sites cannot put your bot on their pages.
- ``BOT_CHAT_SOCKETS_PER_IP``: one client address holds at most this many customer sockets at
  once in this process. Counted here, around the whole socket's life, so the count is right
  however the socket ends.
"""

from __future__ import annotations

import logging
from collections import Counter
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Settings

logger = logging.getLogger(__name__)

CHAT_PATH = "/ws/chat"
POLICY_VIOLATION = 1008


class ChatHandshakeGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed_origins = {_origin(origin) for origin in settings.widget_allowed_origins}
        self.sockets_per_address = settings.chat_sockets_per_ip
        self.open_sockets: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != CHAT_PATH:
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        if not self.origin_allowed(Headers(scope=scope)):
            logger.info("customer socket from %s refused: origin not allowed", address)
            await _refuse(receive, send)
            return
        if self.open_sockets[address] >= self.sockets_per_address:
            logger.info("customer socket from %s refused: %d already open", address, self.sockets_per_address)
            await _refuse(receive, send)
            return
        self.open_sockets[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open_sockets[address] -= 1
            if self.open_sockets[address] <= 0:
                del self.open_sockets[address]

    def origin_allowed(self, headers: Headers) -> bool:
        if not self.allowed_origins:
            return True
        origin = headers.get("origin")
        if origin is None:
            return False
        origin = _origin(origin)
        return origin in self.allowed_origins or urlsplit(origin).netloc == headers.get("host", "").lower()


async def _refuse(receive: Receive, send: Send) -> None:
    # A close before the accept makes the server answer the upgrade request with HTTP 403.
    await receive()
    await send({"type": "websocket.close", "code": POLICY_VIOLATION})


def _origin(value: str) -> str:
    return value.strip().rstrip("/").lower()
