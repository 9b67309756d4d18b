"""Queries behind the staff console: the filtered conversation list and the transcript.

Every filter is an EXISTS over the conversation's messages, so filters combine freely and
the list stays one query plus a few per-page look-ups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload, sessionmaker

from bot.db import csat
from bot.db.models import Conversation, Feedback, Label, Message, Prediction, StaffUser, utc_midnight, utcnow
from bot.errors import NotFound
from bot.wire.console import (
    CitationView,
    ConversationHeader,
    ConversationSummary,
    CsatView,
    LabelView,
    PredictionView,
    Transcript,
    TranscriptLine,
)
from bot.wire.enums import FALLBACK_ACTIONS, ConversationStatus, Rating, ReplyAction, Role
from bot.wire.messages import ChatMessage

HANDOFF_ACTION = ReplyAction.HANDOFF
PREVIEW_CHARS = 140
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class ConversationFilters:
    """None means "either way" for each filter; dates are whole UTC days, both ends included."""

    text: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    intent: str | None = None
    confidence_below: float | None = None
    fallback: bool | None = None
    handoff: bool | None = None
    thumbs_down: bool | None = None
    reviewed: bool | None = None
    status: str | None = None


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    total: int
    page: int
    page_size: int


def list_conversations(
    factory: sessionmaker[Session], filters: ConversationFilters, page: int, page_size: int
) -> Page[ConversationSummary]:
    conditions = filter_conditions(filters)
    with factory() as session:
        total = session.scalar(select(func.count()).select_from(Conversation).where(*conditions)) or 0
        rows = list(
            session.scalars(
                select(Conversation)
                .where(*conditions)
                .order_by(Conversation.updated_at.desc(), Conversation.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        )
        items = summaries(session, rows)
    return Page(items, int(total), page, page_size)


def filter_conditions(filters: ConversationFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.text:
        needle = filters.text.lower()
        conditions.append(_has_message(func.lower(Message.text).contains(needle, autoescape=True)))
    if filters.date_from is not None:
        conditions.append(Conversation.created_at >= utc_midnight(filters.date_from))
    if filters.date_to is not None:
        conditions.append(Conversation.created_at < utc_midnight(filters.date_to + dt.timedelta(days=1)))
    if filters.intent:
        conditions.append(_touches_intent(filters.intent))
    if filters.confidence_below is not None:
        conditions.append(_has_prediction(Prediction.confidence < filters.confidence_below))
    if filters.status:
        conditions.append(Conversation.status == filters.status)
    flags = (
        (filters.fallback, _had_fallback()),
        (filters.handoff, _had_handoff()),
        (filters.thumbs_down, _had_thumbs_down()),
        (filters.reviewed, Conversation.reviewed_at.is_not(None)),
    )
    for wanted, condition in flags:
        if wanted is not None:
            conditions.append(condition if wanted else not_(condition))
    return conditions


def _has_message(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Message.conversation_id == Conversation.id, *where)


def _has_prediction(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        Message.conversation_id == Conversation.id,
        Prediction.message_id == Message.id,
        Prediction.shadow.is_(False),
        *where,
    )


def _touches_intent(intent: str) -> ColumnElement[bool]:
    labelled = exists().where(
        Message.conversation_id == Conversation.id, Label.message_id == Message.id, Label.intent == intent
    )
    return or_(_has_prediction(Prediction.intent == intent), labelled)


def _action() -> ColumnElement[str]:
    return Message.payload["action"].as_string()


def _had_fallback() -> ColumnElement[bool]:
    return _has_message(Message.role == Role.BOT, _action().in_(FALLBACK_ACTIONS))


def _had_handoff() -> ColumnElement[bool]:
    return or_(
        Conversation.status.in_((ConversationStatus.WAITING, ConversationStatus.AGENT)),
        Conversation.assigned_to_id.is_not(None),
        _has_message(Message.role == Role.AGENT),
        _has_message(Message.role == Role.BOT, _action() == HANDOFF_ACTION),
    )


def newest_feedback_is_down() -> ColumnElement[bool]:
    """For a ``Feedback`` row in scope: it is its message's newest rating and it is thumbs-down."""
    newer = aliased(Feedback)
    return and_(
        Feedback.rating == "down",
        not_(exists().where(newer.message_id == Feedback.message_id, newer.id > Feedback.id)),
    )


def _had_thumbs_down() -> ColumnElement[bool]:
    return _has_message(Feedback.message_id == Message.id, newest_feedback_is_down())


def summaries(session: Session, conversations: list[Conversation]) -> list[ConversationSummary]:
    ids = [conversation.id for conversation in conversations]
    previews = _first_customer_texts(session, ids)
    lowest = _lowest_confidences(session, ids)
    downs = _thumbs_down_counts(session, ids)
    ratings = csat.latest_by_conversation(session, ids)
    agents = _agent_names(session, conversations)
    nobody: tuple[str | None, str | None] = (None, None)
    return [
        ConversationSummary(
            id=conversation.id,
            status=ConversationStatus(conversation.status),
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            messages=conversation.last_seq,
            preview=previews.get(conversation.id, ""),
            lowest_confidence=lowest.get(conversation.id),
            thumbs_down=downs.get(conversation.id, 0),
            reviewed_at=conversation.reviewed_at,
            reviewed_by=conversation.reviewed_by,
            agent_username=agents.get(conversation.id, nobody)[0],
            agent_name=agents.get(conversation.id, nobody)[1],
            csat=ratings[conversation.id].rating if conversation.id in ratings else None,
        )
        for conversation in conversations
    ]


def _first_customer_texts(session: Session, ids: list[str]) -> dict[str, str]:
    first = (
        select(Message.conversation_id, func.min(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids), Message.role == Role.USER)
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.text).join(
            first, and_(Message.conversation_id == first.c.conversation_id, Message.seq == first.c.seq)
        )
    )
    return {conversation_id: text[:PREVIEW_CHARS] for conversation_id, text in rows}


def _lowest_confidences(session: Session, ids: list[str]) -> dict[str, float]:
    rows = session.execute(
        select(Message.conversation_id, func.min(Prediction.confidence))
        .join(Prediction, Prediction.message_id == Message.id)
        .where(Message.conversation_id.in_(ids), Prediction.shadow.is_(False))
        .group_by(Message.conversation_id)
    )
    return {conversation_id: round(float(value), 4) for conversation_id, value in rows}


def _thumbs_down_counts(session: Session, ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(Message.conversation_id, func.count())
        .join(Feedback, Feedback.message_id == Message.id)
        .where(Message.conversation_id.in_(ids), newest_feedback_is_down())
        .group_by(Message.conversation_id)
    )
    return {conversation_id: int(count) for conversation_id, count in rows}


def _agent_names(session: Session, conversations: list[Conversation]) -> dict[str, tuple[str, str]]:
    """Per conversation held by staff: (username, display name) of who holds it."""
    user_ids = {c.assigned_to_id for c in conversations if c.assigned_to_id is not None}
    if not user_ids:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.username, StaffUser.display_name).where(StaffUser.id.in_(user_ids))
    )
    names = {user_id: (username, name) for user_id, username, name in rows}
    return {c.id: names[c.assigned_to_id] for c in conversations if c.assigned_to_id in names}


def transcript(factory: sessionmaker[Session], conversation_id: str, after_seq: int = 0) -> Transcript | None:
    """The conversation with every message after ``after_seq`` and all that is known about each."""
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
            .order_by(Message.seq)
            .options(
                selectinload(Message.predictions),
                selectinload(Message.feedback),
                selectinload(Message.labels),
                selectinload(Message.citation_reviews),
            )
        ).all()
        header = ConversationHeader(
            **dict(summaries(session, [conversation])[0]),
            csat_history=_csat_history(session, conversation_id),
        )
        return Transcript(conversation=header, messages=[message_view(message) for message in messages])


def conversation_header(factory: sessionmaker[Session], conversation_id: str) -> ConversationSummary:
    """The conversation's summary; ``NotFound`` when there is no such conversation."""
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("unknown_conversation", "conversation not found")
        return summaries(session, [conversation])[0]


def _csat_history(session: Session, conversation_id: str) -> list[CsatView]:
    rows = session.scalars(
        select(csat.CsatRating)
        .where(csat.CsatRating.conversation_id == conversation_id)
        .order_by(csat.CsatRating.id)
    )
    return [CsatView(rating=r.rating, comment=r.comment, created_at=r.created_at) for r in rows]


def message_view(message: Message) -> TranscriptLine:
    """A transcript line: the message, and for a customer turn its predictions (the shown one
    first) and labels, for a bot reply the customer's current rating."""
    line = ChatMessage.of(message)
    if line.role == Role.USER:
        predictions = sorted(message.predictions, key=lambda p: (p.shadow, p.id))
        return TranscriptLine(
            message=line,
            predictions=[PredictionView.of(p) for p in predictions],
            labels=[LabelView.of(label) for label in message.labels],
        )
    if line.role == Role.BOT:
        feedback = sorted(message.feedback, key=lambda f: f.id)
        reviews = message.citation_reviews
        cited = line.sources[0].id if line.sources else None
        return TranscriptLine(
            message=line,
            rating=Rating(feedback[-1].rating) if feedback else None,
            citation=CitationView.of(reviews[-1], cited) if reviews else None,
        )
    return TranscriptLine(message=line)


def set_reviewed(factory: sessionmaker[Session], conversation_id: str, reviewed: bool, username: str) -> bool:
    """Mark (or unmark) a conversation reviewed; False when it does not exist."""
    values: dict[str, Any] = {"reviewed_at": utcnow(), "reviewed_by": username}
    if not reviewed:
        values = {"reviewed_at": None, "reviewed_by": None}
    # updated_at means "last activity" for the list's order; reviewing is not activity.
    values["updated_at"] = Conversation.updated_at
    with factory() as session:
        result = session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(**values)
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]
