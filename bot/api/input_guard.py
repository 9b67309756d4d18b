"""Refuse request text that no route can store, before any route sees it.

PostgreSQL text cannot hold NUL, and neither database driver can encode a lone UTF-16 surrogate
(JSON can carry both as ``\\u0000`` and ``\\ud800``): a search for ``a%00b`` once answered 500.
Rather than trusting every route and every field to remember, this middleware checks the path,
the query string and every string of a JSON body, and bounds the body's nesting, answering 422
``invalid_text`` / ``too_deep`` as the socket handlers do.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.frames import parse_json
from bot.chat.text_rules import is_valid_text
from bot.errors import InvalidInput, Refusal

# Staff API bodies are small (a label, an agent's message, an article); 1 MiB is far above them.
MAX_BODY_BYTES = 1024 * 1024


class InputGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_url(scope)
            if _is_json(scope):
                body = await _read_body(receive)
                _check_json_body(body)
                receive = _replay(body, receive)
        except Refusal as refusal:
            await _refuse(refusal, send)
            return
        await self.app(scope, receive, send)


def _check_url(scope: Scope) -> None:
    query = scope.get("query_string", b"").lower()
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        raise InvalidInput("invalid_text", "the address contains a NUL character")


def _is_json(scope: Scope) -> bool:
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"application/json"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class _TooLarge(Refusal):
    http_status = 413

    def __init__(self) -> None:
        super().__init__("body_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")


def _check_json_body(body: bytes) -> None:
    try:
        parsed = parse_json(body)
    except InvalidInput as refusal:
        if refusal.code == "too_deep":
            raise
        return  # not JSON at all: the route's own validation answers it with its usual 422
    if not _all_text_valid(parsed):
        raise InvalidInput("invalid_text", "the body contains text that is not valid Unicode, or NUL")


def _all_text_valid(value: Any) -> bool:
    if isinstance(value, str):
        return is_valid_text(value)
    if isinstance(value, dict):
        return all(_all_text_valid(key) and _all_text_valid(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_all_text_valid(item) for item in value)
    return True


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once more for the app; after it, the client's own messages (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(refusal: Refusal, send: Send) -> None:
    body = json.dumps({"code": refusal.code, "detail": refusal.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.http_status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
