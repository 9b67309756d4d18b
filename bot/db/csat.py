"""Customer satisfaction: a 1-5 rating of a whole conversation, and its averages.

A customer may rate again; the newest rating of a conversation is the one that counts.
A conversation counts towards every intent that was predicted for one of its customer turns
(out-of-scope turns count as ``out_of_scope``), so an intent's average says how satisfied
customers were whose chats touched it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, CsatRating, Message, Prediction
from bot.errors import InvalidInput, NotFound

MAX_COMMENT_CHARS = 2000
OUT_OF_SCOPE = "out_of_scope"


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


def per_intent(session: Session) -> list[Average]:
    intent = case((Prediction.out_of_scope, OUT_OF_SCOPE), else_=Prediction.intent)
    touched = (
        select(Message.conversation_id.label("conversation_id"), intent.label("intent"))
        .join(Prediction, Prediction.message_id == Message.id)
        .where(Message.role == "user")
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(touched.c.intent, func.count(), func.avg(CsatRating.rating))
        .join(CsatRating, CsatRating.conversation_id == touched.c.conversation_id)
        .where(CsatRating.id.in_(latest_ratings()))
        .group_by(touched.c.intent)
        .order_by(func.avg(CsatRating.rating), touched.c.intent)
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
