"""Parsing the JSON frames of the customer and staff sockets, with every refusal named.

Both sockets accept JSON objects only. Before ``json.loads`` builds anything, the frame's
nesting is bounded: deeply nested JSON (a thousand ``[``) once raised ``RecursionError`` inside
the handler and closed the socket with 1006. Pydantic models then check each field; their
errors become the specific codes documented in the README's protocol table.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import InvalidInput

FrameT = TypeVar("FrameT", bound=BaseModel)

# Real frames nest two or three levels deep (``message.choice.seq``).
MAX_DEPTH = 16
# Ids and sequence numbers are 32-bit database integers.
MAX_INT = 2**31 - 1
# The widget's client ids are UUIDs; any short token of this alphabet is accepted.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# Conversation tokens are ``secrets.token_urlsafe`` strings.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,200}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

_BOUND_ERRORS = {"less_than_equal", "less_than", "greater_than_equal", "greater_than"}
# A field's refusal code when its content, not its type, is wrong.
_FIELD_CODES = {
    "client_id": "invalid_client_id",
    "token": "invalid_token",
    "text": "invalid_text",
    "comment": "invalid_text",
    "conversation_id": "invalid_conversation_id",
}


def parse_json(raw: str | bytes | None) -> Any:
    """The parsed JSON, or ``InvalidInput`` with code invalid_json or too_deep."""
    if raw is None:
        raise InvalidInput("invalid_json", "the frame is empty")
    if _nesting_exceeds(raw, MAX_DEPTH):
        raise InvalidInput("too_deep", f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("invalid_json", "the frame is not valid JSON") from error


def parse_frame(raw: str | bytes | None) -> dict[str, Any]:
    """The frame as a dict, or ``InvalidInput`` with code invalid_json, too_deep or invalid_frame."""
    frame = parse_json(raw)
    if not isinstance(frame, dict):
        raise InvalidInput("invalid_frame", "a frame must be a JSON object")
    return frame


def validate(model: type[FrameT], frame: dict[str, Any]) -> FrameT:
    try:
        return model.model_validate(frame)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        if first["type"] == "missing":
            code = "missing_field"
        elif first["type"] in _BOUND_ERRORS and _beyond_columns(first.get("input")):
            code = "number_out_of_range"
        else:
            code = _FIELD_CODES.get(field, "invalid_field")
        raise InvalidInput(code, f"{where}: {first['msg']}") from error


def _beyond_columns(value: object) -> bool:
    return isinstance(value, int) and not -MAX_INT <= value <= MAX_INT


def frame_type(frame: dict[str, Any]) -> str:
    kind = frame.get("type")
    if not isinstance(kind, str) or len(kind) > 32:
        raise InvalidInput("unknown_type", "the frame's type is missing or not a known name")
    return kind


def unknown_type(kind: str) -> InvalidInput:
    return InvalidInput("unknown_type", f"unknown frame type {kind.encode('ascii', 'replace').decode()!r}")


def _nesting_exceeds(raw: str | bytes, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit``, brackets inside strings excepted.

    Most frames hold fewer brackets than the limit, which settles it without a scan.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
