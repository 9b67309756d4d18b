"""The grouped SELECTs behind the analytics figures, keyed by whatever the caller groups by.

The same statements read the live tables for a request (``bot.insights.analytics``) and fill
the daily roll-ups (``bot.insights.rollup``), so a day's figures are the same whichever way
they are read. Each returns its keys first, then columns named as the roll-up table's:

- conversations: ``conversations, handed_off, decided, contained, csat_1 .. csat_5``;
- turns (bot replies): ``turns, suggestion_clicks, thumbs_up, thumbs_down, confidence_sum,
  confidence_0 .. confidence_9``;
- latency: ``ms, replies`` (how many replies took each whole millisecond).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, ScalarSelect, Select, Table, and_, case, func, not_, or_, select
from sqlalchemy.sql.elements import Label as SqlLabel

from bot.db.models import Conversation, CsatRating, Feedback, Label, Message
from bot.db.review import HANDOFF_ACTION
from bot.wire.enums import LabelSource

CONTAINMENT_IDLE = dt.timedelta(minutes=30)
CONFIDENCE_BINS = 10
CSAT_RATINGS = (1, 2, 3, 4, 5)
ASK_BACK_ACTION = "clarify"

CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
FEEDBACK = cast(Table, Feedback.__table__)
LABELS = cast(Table, Label.__table__)
CSAT = cast(Table, CsatRating.__table__)

Key = SqlLabel[Any]
Condition = ColumnElement[bool]


def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def conversation_adapter() -> ColumnElement[str]:
    """A conversation's adapter version: that of its first bot reply that served a prediction."""
    return func.coalesce(CONVERSATIONS.c.first_adapter, "")


def reply_adapter() -> ColumnElement[str]:
    """The adapter version whose prediction a reply served ('' for none: a clicked suggestion's answer)."""
    return func.coalesce(MESSAGES.c.reply_adapter, "")


def reply_action() -> ColumnElement[str]:
    return func.coalesce(MESSAGES.c.reply_action, "")


def reply_intent() -> ColumnElement[str]:
    return func.coalesce(MESSAGES.c.reply_intent, "")


def newest(column: ColumnElement[Any], owned_by: ColumnElement[bool]) -> ScalarSelect[Any]:
    """A correlated lookup of the newest row's ``column`` (highest id) among those ``owned_by``
    the outer row: a conversation's last CSAT rating, a reply's last thumb. An index probe per
    row, so a day's build or scan reads its own rows, however long the history is."""
    table = cast(Table, column.table)
    return select(column).where(owned_by).order_by(table.c.id.desc()).limit(1).scalar_subquery()


# ------------------------------------------------------------------ conversations --
def handed_off() -> ColumnElement[bool]:
    """A person was asked for or stepped in (for a row of ``conversations``)."""
    # Correlated (an index probe per conversation, on the partial index of such messages), so
    # a day's build reads that day's rows, not every hand-off there ever was.
    person_wrote_or_was_asked = (
        select(MESSAGES.c.id)
        .where(
            MESSAGES.c.conversation_id == CONVERSATIONS.c.id,
            or_(MESSAGES.c.role == "agent", MESSAGES.c.reply_action == HANDOFF_ACTION),
        )
        .exists()
    )
    return or_(
        CONVERSATIONS.c.status.in_(("waiting", "agent")),
        CONVERSATIONS.c.assigned_to_id.is_not(None),
        person_wrote_or_was_asked,
    )


def conversation_figures(keys: Sequence[Key], where: Sequence[Condition], now: dt.datetime) -> Select[Any]:
    """Conversations the customer wrote in, with hand-off, outcome and their newest CSAT rating."""
    newest_rating = newest(CSAT.c.rating, CSAT.c.conversation_id == CONVERSATIONS.c.id)
    settled = or_(CONVERSATIONS.c.status == "closed", CONVERSATIONS.c.updated_at <= now - CONTAINMENT_IDLE)
    flags = (
        select(*keys, handed_off().label("handed"), settled.label("settled"), newest_rating.label("rating"))
        .where(CONVERSATIONS.c.last_seq > 0, *where)
        .subquery()
    )
    grouped = [flags.c[key.name] for key in keys]
    return select(
        *grouped,
        func.count().label("conversations"),
        counted(flags.c.handed).label("handed_off"),
        counted(or_(flags.c.handed, flags.c.settled)).label("decided"),
        counted(and_(flags.c.settled, not_(flags.c.handed))).label("contained"),
        *(counted(flags.c.rating == rating).label(f"csat_{rating}") for rating in CSAT_RATINGS),
    ).group_by(*grouped)


# ------------------------------------------------------------------------ turns --
def confidence_bins(column: ColumnElement[float]) -> list[ColumnElement[bool]]:
    """Whether a confidence falls in each tenth, 0-9 (1.0 in the last), by comparisons both
    engines agree on. Edges are rounded: 3 / 10 is 0.30000000000000004 in binary."""
    edges = [round(step / CONFIDENCE_BINS, 6) for step in range(1, CONFIDENCE_BINS)]
    lower: list[ColumnElement[bool]] = [column < edges[0]]
    middle = [and_(column >= low, column < high) for low, high in zip(edges, edges[1:], strict=False)]
    return lower + middle + [column >= edges[-1]]


def turn_figures(keys: Sequence[Key], where: Sequence[Condition]) -> Select[Any]:
    """Bot replies: volume, suggestion clicks, each reply's newest thumb, confidence."""
    # Correlated subqueries (index probes) rather than joins with whole-table aggregates, so a
    # request or a day's build reads its own rows, whatever the size of the history.
    clicked = (
        select(LABELS.c.id)
        .where(LABELS.c.message_id == MESSAGES.c.reply_to_id, LABELS.c.source == LabelSource.SUGGESTION_CLICK)
        .exists()
    )
    thumb = newest(FEEDBACK.c.rating, FEEDBACK.c.message_id == MESSAGES.c.id)
    confidence = MESSAGES.c.reply_confidence
    return (
        select(
            *keys,
            func.count().label("turns"),
            counted(and_(MESSAGES.c.reply_action == ASK_BACK_ACTION, clicked)).label("suggestion_clicks"),
            counted(thumb == "up").label("thumbs_up"),
            counted(thumb == "down").label("thumbs_down"),
            func.coalesce(func.sum(confidence), 0.0).label("confidence_sum"),
            *(
                counted(in_bin).label(f"confidence_{i}")
                for i, in_bin in enumerate(confidence_bins(confidence))
            ),
        )
        .where(MESSAGES.c.role == "bot", *where)
        .group_by(*keys)
    )


def latency_figures(keys: Sequence[Key], where: Sequence[Condition]) -> Select[Any]:
    """How many bot replies took each whole number of milliseconds: exact percentiles come from
    these counts with no sort of the rows, and they add up across days and versions."""
    return (
        select(*keys, MESSAGES.c.reply_ms.label("ms"), func.count().label("replies"))
        .where(MESSAGES.c.role == "bot", MESSAGES.c.reply_ms.is_not(None), *where)
        .group_by(*keys, MESSAGES.c.reply_ms)
    )
