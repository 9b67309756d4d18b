"""Customer satisfaction: a 1-5 rating of a whole conversation, and its averages.

A customer may rate again; the newest rating of a conversation is the one that counts.
Each rated conversation counts once, under its topic: the intent of its first reply that
answered one (a clicked suggestion's included); a conversation the bot never answered an intent
in counts as ``out_of_scope``. So the per-intent counts add up to the overall count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, CsatRating, Message
from bot.errors import InvalidInput, NotFound

MAX_COMMENT_CHARS = 2000
OUT_OF_SCOPE = "out_of_scope"
ANSWERED_ACTIONS = ("answer", "handoff")


@dataclass(frozen=True)
class Average:
    key: str
    count: int
    average: float


def record_csat(
    factory: sessionmaker[Session], conversation_id: str, rating: int, comment: str
) -> CsatRating:
    if not 1 <= rating <= 5:
        raise InvalidInput("invalid_rating", "the rating must be a whole number from 1 to 5")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput("comment_too_long", f"the comment may have at most {MAX_COMMENT_CHARS} characters")
    with factory() as session:
        if session.get(Conversation, conversation_id) is None:
            raise NotFound("unknown_conversation", "conversation not found")
        row = CsatRating(conversation_id=conversation_id, rating=rating, comment=comment)
        session.add(row)
        session.commit()
        return row


def latest_ratings() -> Select[Any]:
    """Ids of the newest rating of each conversation."""
    return select(func.max(CsatRating.id)).group_by(CsatRating.conversation_id)


def latest_by_conversation(session: Session, conversation_ids: list[str]) -> dict[str, CsatRating]:
    if not conversation_ids:
        return {}
    rows = session.scalars(
        select(CsatRating).where(
            CsatRating.id.in_(latest_ratings().where(CsatRating.conversation_id.in_(conversation_ids)))
        )
    )
    return {row.conversation_id: row for row in rows}


def overall(session: Session) -> Average:
    count, average = session.execute(
        select(func.count(), func.avg(CsatRating.rating)).where(CsatRating.id.in_(latest_ratings()))
    ).one()
    return Average("all", int(count), round(float(average or 0.0), 3))


def conversation_topic(conversation_id: Any) -> ColumnElement[str]:
    """The intent of the conversation's first reply that answered one, else ``out_of_scope``."""
    first_answered = (
        select(Message.reply_intent)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == "bot",
            Message.reply_action.in_(ANSWERED_ACTIONS),
            Message.reply_intent.is_not(None),
        )
        .order_by(Message.seq)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(first_answered, OUT_OF_SCOPE)


def per_intent(session: Session) -> list[Average]:
    topic = conversation_topic(CsatRating.conversation_id).label("topic")
    rows = session.execute(
        select(topic, func.count(), func.avg(CsatRating.rating))
        .where(CsatRating.id.in_(latest_ratings()))
        .group_by(topic)
        .order_by(func.avg(CsatRating.rating), topic)
    ).all()
    return [Average(str(name), int(count), round(float(average), 3)) for name, count, average in rows]


def per_week(session: Session, weeks: int = 26) -> list[Average]:
    """Averages per ISO week (key: the Monday, YYYY-MM-DD), newest first, by when customers rated."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(weeks=weeks)
    rows = session.execute(
        select(CsatRating.created_at, CsatRating.rating).where(
            CsatRating.id.in_(latest_ratings()), CsatRating.created_at >= since
        )
    ).all()
    # Weeks are bucketed here rather than in SQL: SQLite and PostgreSQL spell date truncation differently.
    buckets: defaultdict[dt.date, list[int]] = defaultdict(list)
    for created_at, rating in rows:
        day = created_at.date()
        buckets[day - dt.timedelta(days=day.weekday())].append(rating)
    return [
        Average(monday.isoformat(), len(ratings), round(sum(ratings) / len(ratings), 3))
        for monday, ratings in sorted(buckets.items(), reverse=True)
    ]
