"""``ChatMessage``: a stored message as every reader sees it, and each reader's view of it.

``ChatMessage.of`` is the only code that reads a message row and its JSON payload; the customer
widget's frame, the staff socket's live event, the console's transcript and the export are
views of the same model, each a declared set of fields per role, so a field is named and
typed once. (They were four hand-written serialisers that had started to disagree.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

from bot.db.models import Message
from bot.wire.enums import ReplyAction, Role


def _iso(moment: dt.datetime) -> str:
    # ``isoformat`` and not pydantic's own ("Z" for UTC): the frames keep the format they had.
    return moment.isoformat()


IsoTime = Annotated[dt.datetime, PlainSerializer(_iso, return_type=str)]


class IntentRef(BaseModel):
    """The intent a bot reply answered, with the model's confidence."""

    model_config = ConfigDict(frozen=True)

    name: str
    confidence: float


class SuggestionRef(BaseModel):
    """A button offered with a reply; ``intent`` is what clicking it answers (staff only)."""

    # Fields another feature stores with a suggestion travel along unchanged.
    model_config = ConfigDict(frozen=True, extra="allow")

    title: str
    intent: str


class SourceRef(BaseModel):
    """A knowledge-base article a reply drew on."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    title: str
    # The article's public page (BOT_KB_BASE_URL + id) when the reply was made; None without one.
    url: str | None = None


# Each reader's fields: the common ones, then those of the message's role.
_CUSTOMER_COMMON = ("seq", "role", "text", "created_at")
_CUSTOMER_BY_ROLE: Mapping[Role, tuple[str, ...]] = {
    Role.USER: ("client_id",),
    Role.BOT: ("intent", "suggestions", "sources", "action"),
    Role.AGENT: ("agent_name",),
}
_LIVE_COMMON = ("id", "seq", "role", "text", "created_at")
_LIVE_BY_ROLE: Mapping[Role, tuple[str, ...]] = {
    Role.BOT: ("action", "intent", "form"),
    Role.AGENT: ("agent_name",),
}
_CONSOLE_COMMON = _LIVE_COMMON
_CONSOLE_BY_ROLE: Mapping[Role, tuple[str, ...]] = {
    Role.BOT: ("action", "intent", "sources", "suggestions", "reply_to_id", "form"),
    Role.AGENT: ("agent_name",),
}
_EXPORT_FIELDS = (
    "id",
    "seq",
    "role",
    "text",
    "client_id",
    "reply_to_id",
    "created_at",
    "intent",
    "action",
    "suggestions",
    "sources",
    "form",
    "agent_name",
)


class ChatMessage(BaseModel):
    """One message of a conversation. Role-specific fields are None (or empty) for other roles:
    ``client_id`` for the customer's, ``action``/``intent``/``suggestions``/``sources`` for the
    bot's, ``agent_name`` for a person's."""

    model_config = ConfigDict(frozen=True)

    id: int
    conversation_id: str
    seq: int
    role: Role
    text: str
    created_at: IsoTime
    client_id: str | None = None
    reply_to_id: int | None = None
    action: ReplyAction | None = None
    intent: IntentRef | None = None
    suggestions: list[SuggestionRef] = []
    sources: list[SourceRef] = []
    agent_name: str | None = None
    # A business action's form on a bot reply (``bot/chat/form_turn.py``): the action, the step,
    # the slots filled so far with personal values redacted, the call's outcome. Staff only.
    form: dict[str, Any] | None = None

    @classmethod
    def of(cls, message: Message) -> ChatMessage:
        payload = message.payload or {}
        return cls.model_validate(
            {
                "id": message.id,
                "conversation_id": message.conversation_id,
                "seq": message.seq,
                "role": message.role,
                "text": message.text,
                "created_at": message.created_at,
                "client_id": message.client_id,
                "reply_to_id": message.reply_to_id,
                "action": payload.get("action"),
                "intent": payload.get("intent"),
                "suggestions": payload.get("suggestions", []),
                "sources": payload.get("sources", []),
                "agent_name": payload.get("agent_name"),
                "form": payload.get("form"),
            }
        )

    def customer_view(self) -> dict[str, Any]:
        """What the widget shows: no ids, and suggestions as their titles only; ``asking`` on a
        bot reply that asks for a business action's detail (no answer yet: no thumbs)."""
        view = self._view(_CUSTOMER_COMMON, _CUSTOMER_BY_ROLE, titles_only=True)
        if self.role == Role.BOT:
            view["asking"] = bool(self.form and self.form.get("asking"))
        return view

    def live_view(self) -> dict[str, Any]:
        """What a staff console hears live, to append to an open transcript."""
        return self._view(_LIVE_COMMON, _LIVE_BY_ROLE, titles_only=False)

    def console_view(self) -> dict[str, Any]:
        """A transcript line of the console API (the caller adds predictions, labels, rating)."""
        return self._view(_CONSOLE_COMMON, _CONSOLE_BY_ROLE, titles_only=True)

    def export_view(self) -> dict[str, Any]:
        """Every field, whatever the role, with suggestions' intents: the export's record."""
        return self._view(_EXPORT_FIELDS, {}, titles_only=False)

    def _view(
        self, common: tuple[str, ...], by_role: Mapping[Role, tuple[str, ...]], *, titles_only: bool
    ) -> dict[str, Any]:
        names = (*common, *by_role.get(self.role, ()))
        dumped = self.model_dump(mode="json", include=set(names))
        if titles_only and "suggestions" in dumped:
            dumped["suggestions"] = [suggestion.title for suggestion in self.suggestions]
        return {name: dumped[name] for name in names}
