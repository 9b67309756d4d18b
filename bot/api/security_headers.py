"""Response headers that make the browser a second wall: one ASGI middleware for every HTTP response.

- ``X-Content-Type-Options: nosniff`` everywhere, so no response is ever run as another type.
- The demo page ``/`` gets a Content-Security-Policy: scripts only from this origin, its one
  inline ``<style>`` allowed by hash (computed from ``web/index.html`` at start-up, so editing
  the page cannot silently break it), and a frame policy: only this server may frame it unless
  ``BOT_FRAME_ANCESTORS`` names the embedding sites.
- ``/api/*`` answers ``Cache-Control: no-store``: they carry session data and the CSRF token.

The console pages set their own, stricter headers (``bot/api/console.py``); a header a route
sets itself is never overwritten here, except ``Cache-Control`` on the API.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings

STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: Settings, demo_page: Path) -> None:
        self.app = app
        self.demo_headers = demo_page_headers(demo_page.read_text(encoding="utf-8"), settings.frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if path == "/":
                    for name, value in self.demo_headers.items():
                        headers.setdefault(name, value)
                elif path.startswith("/api/"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def demo_page_headers(html: str, frame_ancestors: list[str]) -> dict[str, str]:
    styles = " ".join(f"'{_sha256(block)}'" for block in STYLE_BLOCK.findall(html))
    ancestors = " ".join(["'self'", *frame_ancestors])
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self' {styles}; img-src 'self' data:; "
            f"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        ),
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if not frame_ancestors:
        # For browsers without CSP level 2; it cannot list other sites, so it is left off then.
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
