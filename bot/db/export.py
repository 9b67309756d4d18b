"""Conversation export: one JSON object per conversation, with its review state and CSAT ratings,
and its messages with predictions, feedback and labels."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.db.models import Conversation, CsatRating, Message
from bot.privacy.redact import redact
from bot.wire.console import CsatView
from bot.wire.enums import ConversationStatus
from bot.wire.export import ConversationRecord, FeedbackRecord, LabelRecord, MessageRecord, PredictionRecord
from bot.wire.messages import ChatMessage

BATCH = 200


def export_conversations(factory: sessionmaker[Session], out: TextIO, *, redacted: bool = False) -> int:
    """Stream conversations in creation order, a page at a time so memory stays flat.

    ``redacted``: personal data in every message and rating comment is replaced (``[EMAIL]``...).
    """
    shown = redact if redacted else _as_is
    count, offset = 0, 0
    with factory() as session:
        while True:
            page = session.scalars(
                select(Conversation)
                .order_by(Conversation.created_at, Conversation.id)
                .offset(offset)
                .limit(BATCH)
                .options(
                    selectinload(Conversation.messages).selectinload(Message.predictions),
                    selectinload(Conversation.messages).selectinload(Message.feedback),
                    selectinload(Conversation.messages).selectinload(Message.labels),
                )
            ).all()
            if not page:
                return count
            ratings = csat_by_conversation(session, [conversation.id for conversation in page])
            for conversation in page:
                record = conversation_record(conversation, ratings[conversation.id], shown)
                out.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
                count += 1
            offset += BATCH
            session.expunge_all()


def csat_by_conversation(session: Session, conversation_ids: list[str]) -> dict[str, list[CsatRating]]:
    """Every rating of a page of conversations in one query, oldest first."""
    ratings: dict[str, list[CsatRating]] = defaultdict(list)
    rows = session.scalars(
        select(CsatRating)
        .where(CsatRating.conversation_id.in_(conversation_ids))
        .order_by(CsatRating.created_at, CsatRating.id)
    )
    for rating in rows:
        ratings[rating.conversation_id].append(rating)
    return ratings


def _as_is(text: str) -> str:
    return text


def conversation_record(
    conversation: Conversation, ratings: list[CsatRating], shown: Callable[[str], str] = _as_is
) -> ConversationRecord:
    return ConversationRecord(
        id=conversation.id,
        status=ConversationStatus(conversation.status),
        created_at=conversation.created_at,
        reviewed_by=conversation.reviewed_by,
        reviewed_at=conversation.reviewed_at,
        csat=ratings[-1].rating if ratings else None,
        csat_history=[
            CsatView(rating=r.rating, comment=shown(r.comment), created_at=r.created_at) for r in ratings
        ],
        messages=[message_record(message, shown) for message in conversation.messages],
    )


def message_record(message: Message, shown: Callable[[str], str] = _as_is) -> MessageRecord:
    line = ChatMessage.of(message)
    return MessageRecord(
        message=line.model_copy(update={"text": shown(line.text)}),
        predictions=[PredictionRecord.of(p) for p in message.predictions],
        feedback=[FeedbackRecord.of(f) for f in message.feedback],
        labels=[LabelRecord.of(label) for label in message.labels],
    )
