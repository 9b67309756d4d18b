"""uvicorn, configured for the open internet: what `bot serve` (and the live-server tests) run.

uvicorn bounds idle keep-alive connections but not a request that is still arriving: a client
that sends its headers a byte at a time was held 150 s and more, and a few hundred such
connections tie up the server (slowloris). ``RequestDeadlineProtocol`` closes any connection
whose request line, headers and body have not all arrived within
``BOT_HTTP_REQUEST_TIMEOUT_SECONDS`` of its first byte; browsers send a request in milliseconds.

Forwarded headers (``X-Forwarded-For`` / ``-Proto``) are believed only from
``BOT_FORWARDED_ALLOW_IPS``. uvicorn's own default believes 127.0.0.1, which let anyone who reaches
the server through a local proxy, or on the machine, pick the address every per-address limit keys on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.config import Settings


class RequestDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's arrival."""

    request_timeout = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The next request on a keep-alive connection gets its own deadline.
        self._arm_deadline()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm_deadline()

    def handle_websocket_upgrade(self) -> None:
        # From here the WebSocket protocol owns the connection (and its own ping timeout).
        self._disarm_deadline()
        super().handle_websocket_upgrade()

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._request_deadline = self.loop.call_later(self.request_timeout, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _deadline_passed(self) -> None:
        self._request_deadline = None
        if not self.transport.is_closing():
            self.logger.info(
                "closing a connection whose request did not arrive within %.0f s", self.request_timeout
            )
            self.transport.close()


def request_deadline_protocol(seconds: float) -> type[RequestDeadlineProtocol]:
    return type("RequestDeadlineProtocol", (RequestDeadlineProtocol,), {"request_timeout": seconds})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The server's uvicorn settings, for ``uvicorn.run`` or ``uvicorn.Config`` beside host and port."""
    trusted_proxies = settings.forwarded_allow_ips.strip()
    return {
        "http": request_deadline_protocol(settings.http_request_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_concurrency,
        # The WebSocket protocol layer enforces the frame limit and closes with 1009 above it.
        "ws_max_size": settings.max_frame_bytes,
        # Chat frames are small: compressing them costs CPU and ~40 KB per open socket (measured).
        "ws_per_message_deflate": False,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies or None,
        "server_header": False,
    }
