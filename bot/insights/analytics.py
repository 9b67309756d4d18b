"""How well the bot serves: conversation and turn figures over a date range, per adapter version.

Every figure is an aggregate in SQL (SQLAlchemy Core) over plain columns, so SQLite and
PostgreSQL return the same numbers; percentiles are nearest-rank (the value at rank
ceil(p/100 * n) in ascending order), which both engines compute exactly with ``row_number()``.

Definitions (the README repeats them for staff):

- A **conversation** counts when it was started in the range and the customer wrote at least
  once (opening the widget alone is not a conversation). It belongs to the adapter of its first
  bot reply.
- It was **handed off** when the customer asked for a person (a reply with action
  ``handoff``), or staff took it over or wrote in it.
- Its outcome is **decided** once it was handed off, closed, or idle for ``CONTAINMENT_IDLE``;
  it is **contained** when decided without a hand-off. Containment = contained / decided.
- A **turn** is a bot reply written in the range; per-turn figures belong to the adapter whose
  prediction the reply served (a clicked suggestion's answer has none: it counts only in the
  all-adapters view). Fallback = out-of-scope replies (``knowledge``, ``offer_human``),
  ask-back = ``clarify`` replies, suggestion click = an ask-back whose suggestion the customer
  clicked.
- Thumbs count each reply's newest rating; CSAT each conversation's newest rating, once per
  conversation, under the conversation's range bucket and adapter.
- Reply latency is from the customer's message being stored to the reply being stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, CsatRating, Feedback, Label, Message
from bot.db.review import FALLBACK_ACTIONS, HANDOFF_ACTION
from bot.errors import InvalidInput
from bot.insights.sql_time import utc_day, utc_week

CONTAINMENT_IDLE = dt.timedelta(minutes=30)
MAX_RANGE_DAYS = 366
CONFIDENCE_BINS = 10
ASK_BACK_ACTION = "clarify"
ANSWER_ACTIONS = ("answer", HANDOFF_ACTION)
SUGGESTION_CLICK = "suggestion_click"  # the label source of a clicked suggestion (bot.chat.conversation)
OUT_OF_SCOPE = "out_of_scope"
ALL = ""  # the bucket key of a whole-range summary

CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
FEEDBACK = cast(Table, Feedback.__table__)
LABELS = cast(Table, Label.__table__)
CSAT = cast(Table, CsatRating.__table__)


class Interval(StrEnum):
    day = "day"
    week = "week"


@dataclass(frozen=True)
class Scope:
    """Whole UTC days ``first``..``last`` (both included), optionally one adapter version."""

    first: dt.date
    last: dt.date
    adapter: str | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInput("invalid_range", "'to' must not be before 'from'")
        if (self.last - self.first).days >= MAX_RANGE_DAYS:
            raise InvalidInput("range_too_long", f"a range may span at most {MAX_RANGE_DAYS} days")

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


class Figures(BaseModel):
    """One range's (or one bucket's) figures; rates are None where their base is zero."""

    conversations: int = 0
    handed_off: int = 0
    handoff_rate: float | None = None
    decided: int = Field(default=0, description="Conversations handed off, closed, or idle long enough")
    contained: int = 0
    containment_rate: float | None = None
    turns: int = Field(default=0, description="Bot replies")
    fallbacks: int = 0
    fallback_rate: float | None = None
    ask_backs: int = 0
    ask_back_rate: float | None = None
    suggestion_clicks: int = 0
    suggestion_click_rate: float | None = Field(default=None, description="Clicks per ask-back")
    thumbs_up: int = 0
    thumbs_down: int = 0
    csat_count: int = 0
    csat_average: float | None = None
    csat_distribution: dict[str, int] = Field(default_factory=lambda: {str(r): 0 for r in range(1, 6)})
    latency_median_ms: int | None = None
    latency_p95_ms: int | None = None
    confidence_mean: float | None = None
    confidence_histogram: list[int] = Field(
        default_factory=lambda: [0] * CONFIDENCE_BINS,
        description="Served predictions per confidence tenth: [0, 0.1), [0.1, 0.2), ... [0.9, 1]",
    )


class IntentVolume(BaseModel):
    intent: str
    turns: int


class AdapterVolume(BaseModel):
    adapter: str = Field(description="Adapter version; '' for replies that served no prediction")
    conversations: int
    turns: int


class Summary(BaseModel):
    date_from: dt.date = Field(serialization_alias="from")
    date_to: dt.date = Field(serialization_alias="to")
    adapter: str | None
    idle_minutes: int = Field(description="Idle time after which a conversation's outcome is decided")
    figures: Figures
    intents: list[IntentVolume] = Field(description="Answered turns per intent; fallbacks as out_of_scope")
    adapters: list[AdapterVolume]


class Bucket(Figures):
    start: str = Field(description="First UTC day of the bucket (a Monday for weeks)")


class Timeseries(BaseModel):
    date_from: dt.date = Field(serialization_alias="from")
    date_to: dt.date = Field(serialization_alias="to")
    adapter: str | None
    interval: Interval
    idle_minutes: int
    buckets: list[Bucket]


BucketOf = Callable[[ColumnElement[Any]], ColumnElement[str]]


@dataclass
class _Tally:
    """Counts per bucket as the queries fill them in; turned into ``Figures`` at the end."""

    counts: defaultdict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))

    def put(self, bucket: str, **values: Any) -> None:
        self.counts[bucket].update(values)


def summary(factory: sessionmaker[Session], scope: Scope, now: dt.datetime | None = None) -> Summary:
    with factory() as session:
        tally = _tally(session, scope, None, now or dt.datetime.now(dt.UTC))
        figures = _figures(tally.counts.get(ALL, {}))
        return Summary(
            date_from=scope.first,
            date_to=scope.last,
            adapter=scope.adapter,
            idle_minutes=_idle_minutes(),
            figures=figures,
            intents=_intent_volumes(session, scope),
            adapters=_adapter_volumes(session, scope),
        )


def timeseries(
    factory: sessionmaker[Session], scope: Scope, interval: Interval, now: dt.datetime | None = None
) -> Timeseries:
    bucket_of: BucketOf = utc_day if interval is Interval.day else utc_week
    with factory() as session:
        tally = _tally(session, scope, bucket_of, now or dt.datetime.now(dt.UTC))
    buckets = [
        Bucket(start=start, **_figures(tally.counts.get(start, {})).model_dump())
        for start in _bucket_starts(scope, interval)
    ]
    return Timeseries(
        date_from=scope.first,
        date_to=scope.last,
        adapter=scope.adapter,
        interval=interval,
        idle_minutes=_idle_minutes(),
        buckets=buckets,
    )


def _idle_minutes() -> int:
    return int(CONTAINMENT_IDLE.total_seconds() // 60)


def _bucket_starts(scope: Scope, interval: Interval) -> list[str]:
    day = scope.first
    if interval is Interval.week:
        day -= dt.timedelta(days=day.weekday())
    step = dt.timedelta(days=1 if interval is Interval.day else 7)
    starts = []
    while day <= scope.last:
        starts.append(day.isoformat())
        day += step
    return starts


def _tally(session: Session, scope: Scope, bucket_of: BucketOf | None, now: dt.datetime) -> _Tally:
    tally = _Tally()
    _conversation_counts(session, scope, bucket_of, now, tally)
    _csat_counts(session, scope, bucket_of, tally)
    _turn_counts(session, scope, bucket_of, tally)
    _click_counts(session, scope, bucket_of, tally)
    _thumb_counts(session, scope, bucket_of, tally)
    _confidence_counts(session, scope, bucket_of, tally)
    _latency_percentiles(session, scope, bucket_of, tally)
    return tally


# ------------------------------------------------------------------ conversations --
def conversation_adapter() -> ColumnElement[str | None]:
    """The adapter of the conversation's first bot reply (correlated to ``conversations``)."""
    return (
        select(MESSAGES.c.reply_adapter)
        .where(MESSAGES.c.conversation_id == CONVERSATIONS.c.id, MESSAGES.c.role == "bot")
        .order_by(MESSAGES.c.seq)
        .limit(1)
        .scalar_subquery()
    )


def handed_off() -> ColumnElement[bool]:
    """A person was asked for or stepped in (correlated to ``conversations``)."""
    person_wrote_or_was_asked = exists().where(
        MESSAGES.c.conversation_id == CONVERSATIONS.c.id,
        or_(MESSAGES.c.role == "agent", MESSAGES.c.reply_action == HANDOFF_ACTION),
    )
    return or_(
        CONVERSATIONS.c.status.in_(("waiting", "agent")),
        CONVERSATIONS.c.assigned_to_id.is_not(None),
        person_wrote_or_was_asked,
    )


def _conversations_in(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [
        CONVERSATIONS.c.created_at >= scope.start,
        CONVERSATIONS.c.created_at < scope.end,
        CONVERSATIONS.c.last_seq > 0,
    ]
    if scope.adapter is not None:
        conditions.append(conversation_adapter() == scope.adapter)
    return conditions


def _one(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


GroupedSelect = TypeVar("GroupedSelect", bound="Select[*tuple[Any, ...]]")


def _grouped(query: GroupedSelect, bucket: ColumnElement[str] | None) -> GroupedSelect:
    return query if bucket is None else query.group_by(bucket)


def _bucket(bucket_of: BucketOf | None, column: ColumnElement[Any]) -> ColumnElement[str] | None:
    return None if bucket_of is None else bucket_of(column).label("bucket")


def _bucket_column(bucket: ColumnElement[str] | None) -> ColumnElement[str]:
    return bucket if bucket is not None else literal_column(f"'{ALL}'").label("bucket")


def _conversation_counts(
    session: Session, scope: Scope, bucket_of: BucketOf | None, now: dt.datetime, tally: _Tally
) -> None:
    bucket = _bucket(bucket_of, CONVERSATIONS.c.created_at)
    handed = handed_off()
    settled = or_(CONVERSATIONS.c.status == "closed", CONVERSATIONS.c.updated_at <= now - CONTAINMENT_IDLE)
    query = select(
        _bucket_column(bucket),
        func.count(),
        _one(handed),
        _one(or_(handed, settled)),
        _one(and_(settled, not_(handed))),
    ).where(*_conversations_in(scope))
    for key, total, handed_count, decided, contained in session.execute(_grouped(query, bucket)):
        tally.put(key, conversations=total, handed_off=handed_count, decided=decided, contained=contained)


def _csat_counts(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, CONVERSATIONS.c.created_at)
    newest = select(func.max(CSAT.c.id)).group_by(CSAT.c.conversation_id)
    query = (
        select(_bucket_column(bucket), CSAT.c.rating, func.count())
        .join_from(CSAT, CONVERSATIONS, CONVERSATIONS.c.id == CSAT.c.conversation_id)
        .where(CSAT.c.id.in_(newest), *_conversations_in(scope))
        .group_by(CSAT.c.rating)
    )
    rows: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for key, rating, count in session.execute(_grouped(query, bucket)):
        rows[key][str(rating)] = int(count)
    for key, distribution in rows.items():
        tally.put(key, csat=distribution)


# ------------------------------------------------------------------------ turns --
def _turns_in(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [
        MESSAGES.c.role == "bot",
        MESSAGES.c.created_at >= scope.start,
        MESSAGES.c.created_at < scope.end,
    ]
    if scope.adapter is not None:
        conditions.append(MESSAGES.c.reply_adapter == scope.adapter)
    return conditions


def _turn_counts(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, MESSAGES.c.created_at)
    action = MESSAGES.c.reply_action
    query = select(
        _bucket_column(bucket),
        func.count(),
        _one(action.in_(FALLBACK_ACTIONS)),
        _one(action == ASK_BACK_ACTION),
    ).where(*_turns_in(scope))
    for key, turns, fallbacks, ask_backs in session.execute(_grouped(query, bucket)):
        tally.put(key, turns=turns, fallbacks=fallbacks, ask_backs=ask_backs)


def _click_counts(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, MESSAGES.c.created_at)
    clicked = exists().where(
        LABELS.c.message_id == MESSAGES.c.reply_to_id, LABELS.c.source == SUGGESTION_CLICK
    )
    query = select(_bucket_column(bucket), func.count()).where(
        *_turns_in(scope), MESSAGES.c.reply_action == ASK_BACK_ACTION, clicked
    )
    for key, clicks in session.execute(_grouped(query, bucket)):
        tally.put(key, suggestion_clicks=clicks)


def _thumb_counts(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, MESSAGES.c.created_at)
    newest = select(func.max(FEEDBACK.c.id)).group_by(FEEDBACK.c.message_id)
    query = (
        select(_bucket_column(bucket), FEEDBACK.c.rating, func.count())
        .join_from(FEEDBACK, MESSAGES, MESSAGES.c.id == FEEDBACK.c.message_id)
        .where(FEEDBACK.c.id.in_(newest), *_turns_in(scope))
        .group_by(FEEDBACK.c.rating)
    )
    for key, rating, count in session.execute(_grouped(query, bucket)):
        tally.put(key, **{f"thumbs_{rating}": count})


def confidence_bin(column: ColumnElement[float]) -> ColumnElement[int]:
    """The tenth a confidence falls in, 0-9 (1.0 in the last), by comparisons both engines agree on."""
    # Rounded edges: 3 / 10 is 0.30000000000000004 in binary, which would put 0.3 in the bin below.
    edges = [(column < round((step + 1) / CONFIDENCE_BINS, 6), step) for step in range(CONFIDENCE_BINS - 1)]
    return case(*edges, else_=CONFIDENCE_BINS - 1)


def _confidence_counts(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, MESSAGES.c.created_at)
    confidence = MESSAGES.c.reply_confidence
    binned = confidence_bin(confidence).label("bin")
    query = (
        select(_bucket_column(bucket), binned, func.count(), func.sum(confidence))
        .where(*_turns_in(scope), confidence.is_not(None))
        .group_by(binned)
    )
    histograms: defaultdict[str, list[int]] = defaultdict(lambda: [0] * CONFIDENCE_BINS)
    sums: defaultdict[str, float] = defaultdict(float)
    for key, index, count, total in session.execute(_grouped(query, bucket)):
        histograms[key][int(index)] = int(count)
        sums[key] += float(total)
    for key, histogram in histograms.items():
        tally.put(key, histogram=histogram, confidence_sum=sums[key])


def _latency_percentiles(session: Session, scope: Scope, bucket_of: BucketOf | None, tally: _Tally) -> None:
    bucket = _bucket(bucket_of, MESSAGES.c.created_at)
    key = _bucket_column(bucket)
    ranked = (
        select(
            key,
            MESSAGES.c.reply_ms.label("ms"),
            func.row_number().over(order_by=MESSAGES.c.reply_ms, partition_by=bucket).label("rank"),
            func.count().over(partition_by=bucket).label("n"),
        )
        .where(*_turns_in(scope), MESSAGES.c.reply_ms.is_not(None))
        .subquery()
    )
    # Nearest rank: ceil(p * n / 100) in integer arithmetic, the same on both engines.
    median_rank = (50 * ranked.c.n + 99) // 100
    p95_rank = (95 * ranked.c.n + 99) // 100
    query = select(
        ranked.c.bucket, ranked.c.ms, ranked.c.rank == median_rank, ranked.c.rank == p95_rank
    ).where(or_(ranked.c.rank == median_rank, ranked.c.rank == p95_rank))
    for bucket_key, ms, is_median, is_p95 in session.execute(query):
        if is_median:
            tally.put(bucket_key, latency_median_ms=int(ms))
        if is_p95:
            tally.put(bucket_key, latency_p95_ms=int(ms))


# ------------------------------------------------------------ summary-only lists --
def _intent_volumes(session: Session, scope: Scope) -> list[IntentVolume]:
    action = MESSAGES.c.reply_action
    intent = case((action.in_(FALLBACK_ACTIONS), OUT_OF_SCOPE), else_=MESSAGES.c.reply_intent).label("intent")
    query = (
        select(intent, func.count().label("turns"))
        .where(*_turns_in(scope), or_(action.in_(ANSWER_ACTIONS), action.in_(FALLBACK_ACTIONS)))
        .group_by(intent)
    )
    rows = [(str(name or ""), int(count)) for name, count in session.execute(query)]
    return [
        IntentVolume(intent=name, turns=count) for name, count in sorted(rows, key=lambda r: (-r[1], r[0]))
    ]


def _adapter_volumes(session: Session, scope: Scope) -> list[AdapterVolume]:
    every_adapter = Scope(scope.first, scope.last)
    adapter = func.coalesce(MESSAGES.c.reply_adapter, "").label("adapter")
    turn_query = select(adapter, func.count()).where(*_turns_in(every_adapter)).group_by(adapter)
    turns = {str(name): int(count) for name, count in session.execute(turn_query)}
    first = func.coalesce(conversation_adapter(), "").label("adapter")
    conversation_query = select(first, func.count()).where(*_conversations_in(every_adapter)).group_by(first)
    conversations = {str(name): int(count) for name, count in session.execute(conversation_query)}
    return [
        AdapterVolume(adapter=name, conversations=conversations.get(name, 0), turns=turns.get(name, 0))
        for name in sorted(set(turns) | set(conversations))
    ]


# ---------------------------------------------------------------------- figures --
def _rate(count: int, base: int) -> float | None:
    return round(count / base, 4) if base else None


def _figures(counts: dict[str, Any]) -> Figures:
    get = lambda name: int(counts.get(name, 0))  # noqa: E731 - a local shorthand
    distribution = {str(r): int(counts.get("csat", {}).get(str(r), 0)) for r in range(1, 6)}
    rated = sum(distribution.values())
    histogram = counts.get("histogram", [0] * CONFIDENCE_BINS)
    predicted = sum(histogram)
    return Figures(
        conversations=get("conversations"),
        handed_off=get("handed_off"),
        handoff_rate=_rate(get("handed_off"), get("conversations")),
        decided=get("decided"),
        contained=get("contained"),
        containment_rate=_rate(get("contained"), get("decided")),
        turns=get("turns"),
        fallbacks=get("fallbacks"),
        fallback_rate=_rate(get("fallbacks"), get("turns")),
        ask_backs=get("ask_backs"),
        ask_back_rate=_rate(get("ask_backs"), get("turns")),
        suggestion_clicks=get("suggestion_clicks"),
        suggestion_click_rate=_rate(get("suggestion_clicks"), get("ask_backs")),
        thumbs_up=get("thumbs_up"),
        thumbs_down=get("thumbs_down"),
        csat_count=rated,
        csat_average=round(sum(int(r) * n for r, n in distribution.items()) / rated, 3) if rated else None,
        csat_distribution=distribution,
        latency_median_ms=counts.get("latency_median_ms"),
        latency_p95_ms=counts.get("latency_p95_ms"),
        confidence_mean=round(counts["confidence_sum"] / predicted, 4) if predicted else None,
        confidence_histogram=list(histogram),
    )
