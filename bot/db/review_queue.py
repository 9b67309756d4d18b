"""The review queue: unreviewed customer turns, the ones whose label would teach the model most first.

A turn is unreviewed while it has no staff label and its conversation is not marked reviewed.
Its usefulness adds up what suggests the model was wrong or unsure about it:

- ``1 - confidence``: the model itself was unsure;
- ``1 - margin``: the top two intents were close (margin = top-1 minus top-2 confidence);
- thumbs-down on the bot's reply: the customer said the answer did not help;
- a suggestion click: the model had to ask back, and the customer's pick is a candidate label.

Each term is at most 1, so no single signal buries the others.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.db.models import Conversation, Feedback, Label, Message, Prediction
from bot.db.review import Page, newest_feedback_is_down
from bot.wire.console import ReviewQueueItem
from bot.wire.enums import LabelSource, Role

THUMBS_DOWN_WEIGHT = 1.0
SUGGESTION_CLICK_WEIGHT = 0.75


def review_queue(factory: sessionmaker[Session], page: int, page_size: int) -> Page[ReviewQueueItem]:
    ranked = _first_prediction()
    thumbs_down = _reply_rated_down()
    clicked = exists().where(Label.message_id == Message.id, Label.source == LabelSource.SUGGESTION_CLICK)
    staff_labelled = exists().where(Label.message_id == Message.id, Label.source == LabelSource.STAFF)
    margin = ranked.c.confidence - func.coalesce(ranked.c.runner_up, 0.0)
    score = (
        (1.0 - ranked.c.confidence)
        + (1.0 - margin)
        + case((thumbs_down, THUMBS_DOWN_WEIGHT), else_=0.0)
        + case((clicked, SUGGESTION_CLICK_WEIGHT), else_=0.0)
    )
    where = (
        Message.role == Role.USER,
        Conversation.reviewed_at.is_(None),
        not_(staff_labelled),
    )
    joined = (
        select(Message.id)
        .join(ranked, and_(ranked.c.message_id == Message.id, ranked.c.rank == 1))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*where)
    )
    query = (
        select(
            Message.id,
            Message.conversation_id,
            Message.seq,
            Message.text,
            Message.created_at,
            ranked.c.intent,
            ranked.c.confidence,
            ranked.c.out_of_scope,
            margin.label("margin"),
            thumbs_down.label("thumbs_down"),
            clicked.label("clicked"),
            score.label("score"),
        )
        .join(ranked, and_(ranked.c.message_id == Message.id, ranked.c.rank == 1))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*where)
        .order_by(score.desc(), Message.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    with factory() as session:
        total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
        items = [_item(row._mapping) for row in session.execute(query)]
    return Page(items, int(total), page, page_size)


def _first_prediction() -> Any:
    """Per message its main prediction: the one that answered, else the earliest shadow one."""
    return select(
        Prediction.message_id,
        Prediction.intent,
        Prediction.confidence,
        Prediction.out_of_scope,
        Prediction.top_k[(1, "confidence")].as_float().label("runner_up"),
        func.row_number()
        .over(partition_by=Prediction.message_id, order_by=(Prediction.shadow, Prediction.id))
        .label("rank"),
    ).subquery()


def _reply_rated_down() -> ColumnElement[bool]:
    reply = aliased(Message)
    return exists().where(
        reply.reply_to_id == Message.id, Feedback.message_id == reply.id, newest_feedback_is_down()
    )


def _item(row: Any) -> ReviewQueueItem:
    return ReviewQueueItem(
        message_id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        text=row["text"],
        created_at=row["created_at"],
        intent=row["intent"],
        confidence=round(float(row["confidence"]), 4),
        margin=round(float(row["margin"]), 4),
        out_of_scope=bool(row["out_of_scope"]),
        thumbs_down=bool(row["thumbs_down"]),
        suggestion_click=bool(row["clicked"]),
        score=round(float(row["score"]), 4),
    )
