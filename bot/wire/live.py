"""The hub's events: what happens in a conversation (and to a staff session), as it happens.

Each event is the frame a staff socket sends (``frame()``) and survives a JSON round trip
(``model_dump(mode="json")``, then ``LIVE_EVENT.validate_python``): ``RedisHub`` carries them
between processes that way. A new event: a model with its own ``type`` literal here, added to
``LiveEvent``; the customer socket ignores events it has no frame for (``bot.chat.turns``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.wire.enums import ConversationStatus, Role
from bot.wire.messages import ChatMessage


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation_id: str | None = None

    def frame(self) -> dict[str, Any]:
        """The event as a staff socket frame (no ``conversation_id`` when it has none)."""
        return self.model_dump(mode="json", exclude=None if self.conversation_id else {"conversation_id"})


class MessageEvent(_Event):
    """A message was stored: the customer's, the bot's reply, or an agent's."""

    type: Literal["message"] = "message"
    message: ChatMessage

    def frame(self) -> dict[str, Any]:
        return {"type": self.type, **self.message.live_view(), "conversation_id": self.conversation_id}


class StatusEvent(_Event):
    """The conversation's status changed; ``agent_name``: who holds it, when someone does."""

    type: Literal["status"] = "status"
    state: ConversationStatus
    agent_name: str | None = None


class TypingEvent(_Event):
    """Someone is typing: an agent (to the customer) or the customer (to the staff watching)."""

    type: Literal["typing"] = "typing"
    role: Literal[Role.AGENT, Role.USER] = Role.AGENT
    agent_name: str | None = None


class ActivityEvent(_Event):
    """A live conversation got a message (``seq``, ``role``), or was assigned to someone
    (``assigned_to``, a username or None): the staff queue re-sorts without the whole message."""

    type: Literal["activity"] = "activity"
    seq: int | None = None
    role: Role | None = None
    assigned_to: str | None = None

    def frame(self) -> dict[str, Any]:
        # Only what happened: a message's seq and role, or the assignment (None: unassigned).
        shown = {"seq", "role"} if self.seq is not None else {"assigned_to"}
        return self.model_dump(mode="json", include={"type", "conversation_id", *shown})


class CsatEvent(_Event):
    """The customer rated the conversation (1-5)."""

    type: Literal["csat"] = "csat"
    rating: int


class LogoutEvent(_Event):
    """The staff session (or account) ended: its sockets close."""

    type: Literal["logout"] = "logout"


LiveEvent = Annotated[
    MessageEvent | StatusEvent | TypingEvent | ActivityEvent | CsatEvent | LogoutEvent,
    Field(discriminator="type"),
]
LIVE_EVENT: TypeAdapter[LiveEvent] = TypeAdapter(LiveEvent)
