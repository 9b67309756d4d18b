"""The typed hub events and frames: they survive the JSON trip between processes, keep the JSON
the widget and console read, and the chat layer stays free of the web framework."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.wire.customer import ErrorFrame, MessageFrame
from bot.wire.enums import ConversationStatus, ReplyAction, Role
from bot.wire.live import (
    LIVE_EVENT,
    ActivityEvent,
    CsatEvent,
    LiveEvent,
    LogoutEvent,
    MessageEvent,
    StatusEvent,
    TypingEvent,
)
from bot.wire.messages import ChatMessage, IntentRef, SourceRef, SuggestionRef

AT = dt.datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=dt.UTC)
REPLY = ChatMessage(
    id=7,
    conversation_id="c1",
    seq=2,
    role=Role.BOT,
    text="Did you mean one of these?",
    created_at=AT,
    reply_to_id=6,
    action=ReplyAction.CLARIFY,
    intent=IntentRef(name="track_order", confidence=0.61),
    suggestions=[SuggestionRef(title="Track an order", intent="track_order")],
    sources=[SourceRef(id="shipping", title="Shipping")],
)
EVENTS: list[LiveEvent] = [
    MessageEvent(conversation_id="c1", message=REPLY),
    StatusEvent(conversation_id="c1", state=ConversationStatus.AGENT, agent_name="Ann"),
    TypingEvent(conversation_id="c1", agent_name="Ann"),
    ActivityEvent(conversation_id="c1", seq=2, role=Role.BOT),
    ActivityEvent(conversation_id="c1", assigned_to=None),
    CsatEvent(conversation_id="c1", rating=4),
    LogoutEvent(),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.type)
def test_an_event_is_the_same_after_the_json_trip_between_processes(event: LiveEvent) -> None:
    carried = json.loads(json.dumps(event.model_dump(mode="json")))
    back = LIVE_EVENT.validate_python(carried)
    assert back == event
    assert back.frame() == event.frame()


def test_frames_keep_the_json_the_widget_and_the_console_read() -> None:
    assert MessageFrame(message=REPLY, reply_to=6).wire() == {
        "type": "message",
        "seq": 2,
        "role": "bot",
        "text": "Did you mean one of these?",
        "created_at": "2026-12-02T10:00:00.123456+00:00",  # isoformat, not pydantic's "Z"
        "intent": {"name": "track_order", "confidence": 0.61},
        "suggestions": ["Track an order"],  # titles only: the intents are for staff
        "sources": [{"id": "shipping", "title": "Shipping", "url": None}],
        "action": "clarify",
        "asking": False,  # no business action's question: thumbs allowed
        "reply_to": 6,
    }
    staff = MessageEvent(conversation_id="c1", message=REPLY).frame()
    assert staff["id"] == 7 and staff["conversation_id"] == "c1" and "suggestions" not in staff
    assert StatusEvent(conversation_id="c1", state=ConversationStatus.BOT).frame() == {
        "type": "status",
        "state": "bot",
        "agent_name": None,
        "conversation_id": "c1",
    }
    assert ErrorFrame(code="rate_limited", detail="slow down", retry_after=2.5).wire() == {
        "type": "error",
        "code": "rate_limited",
        "detail": "slow down",
        "retry_after": 2.5,
    }


def test_the_chat_layer_and_the_wire_models_know_no_web_framework() -> None:
    for package in ("chat", "wire"):
        for source in sorted((PROJECT_ROOT / "bot" / package).glob("*.py")):
            imports = [line for line in _lines(source) if line.startswith(("import ", "from "))]
            assert not [line for line in imports if "fastapi" in line or "starlette" in line], source


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
