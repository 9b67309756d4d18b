"""The frames the server sends on the customer socket (``/ws/chat``).

They are also the events of the chat layer's turn (``bot.chat.turns``): the turn emits them to
its output port, and the socket sends ``frame.wire()`` as JSON. The README's protocol table
lists them; the widget (``web/widget.js``) reads them. A new server frame: a model here with its
own ``type`` literal, added to ``CustomerFrame``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.wire.enums import ConversationStatus, Role
from bot.wire.messages import ChatMessage


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True)

    def wire(self) -> dict[str, Any]:
        """The frame's JSON object."""
        return self.model_dump(mode="json")


class WelcomeFrame(_Frame):
    """The answer to ``hello``: the conversation (new or resumed) and its resume token."""

    type: Literal["welcome"] = "welcome"
    conversation_id: str
    token: str
    seq: int
    status: ConversationStatus


class AckFrame(_Frame):
    """The customer's message is stored (``seq``); its reply follows."""

    type: Literal["ack"] = "ack"
    client_id: str
    seq: int


class MessageFrame(_Frame):
    """A message for the widget to show; ``reply_to``: the seq of the customer message a bot
    reply answers, when known."""

    type: Literal["message"] = "message"
    message: ChatMessage
    reply_to: int | None = None

    def wire(self) -> dict[str, Any]:
        frame = {"type": self.type, **self.message.customer_view()}
        if self.reply_to is not None:
            frame["reply_to"] = self.reply_to
        return frame


class StatusFrame(_Frame):
    """The conversation's status, and who holds it when a person does."""

    type: Literal["status"] = "status"
    state: ConversationStatus
    agent_name: str | None = None


class TypingFrame(_Frame):
    type: Literal["typing"] = "typing"
    role: Literal[Role.AGENT] = Role.AGENT
    agent_name: str | None = None


class FeedbackOkFrame(_Frame):
    type: Literal["feedback_ok"] = "feedback_ok"
    seq: int


class CsatOkFrame(_Frame):
    type: Literal["csat_ok"] = "csat_ok"
    rating: int


class ErrorFrame(_Frame):
    """A refused frame: a stable ``code`` (the README lists them); ``retry_after`` for rate
    limits; ``client_id`` names the refused message so the widget marks it undelivered."""

    type: Literal["error"] = "error"
    code: str
    detail: str
    retry_after: float | None = None
    client_id: str | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


CustomerFrame = (
    WelcomeFrame
    | AckFrame
    | MessageFrame
    | StatusFrame
    | TypingFrame
    | FeedbackOkFrame
    | CsatOkFrame
    | ErrorFrame
)
