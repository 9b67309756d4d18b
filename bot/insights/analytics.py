"""How well the bot serves: conversation and turn figures over a date range, per adapter version.

Every figure is an aggregate in SQL (SQLAlchemy Core) over plain columns, so SQLite and
PostgreSQL return the same numbers; percentiles are nearest-rank (the value at rank
ceil(p/100 * n) in ascending order), which both engines compute exactly with ``row_number()``.

Definitions (the README repeats them for staff):

- A **conversation** counts when it was started in the range and the customer wrote at least
  once (opening the widget alone is not a conversation). It belongs to the adapter of its first
  bot reply that served a prediction (``conversations.first_adapter``).
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

Each request is three grouped scans (conversations with their CSAT; bot replies with their
thumbs and clicks; the replies' latencies), keyed by bucket or by adapter version and added up
in Python, so a summary shows every version's volume from the same scans.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, CsatRating, Feedback, Label, Message
from bot.db.review import FALLBACK_ACTIONS, HANDOFF_ACTION
from bot.errors import InvalidInput
from bot.insights.sql_time import bucket_key, utc_day, utc_week

CONTAINMENT_IDLE = dt.timedelta(minutes=30)
MAX_RANGE_DAYS = 366
CONFIDENCE_BINS = 10
ASK_BACK_ACTION = "clarify"
ANSWER_ACTIONS = ("answer", HANDOFF_ACTION)
SUGGESTION_CLICK = "suggestion_click"  # the label source of a clicked suggestion (bot.chat.conversation)
OUT_OF_SCOPE = "out_of_scope"
CSAT_RATINGS = (1, 2, 3, 4, 5)
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
class _Counts:
    """Raw counts of one key (a bucket, or an adapter version), mergeable by adding."""

    conversations: int = 0
    handed_off: int = 0
    decided: int = 0
    contained: int = 0
    turns: int = 0
    fallbacks: int = 0
    ask_backs: int = 0
    suggestion_clicks: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    csat: Counter[int] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * CONFIDENCE_BINS)
    confidence_sum: float = 0.0
    latency: Counter[int] = field(default_factory=Counter)
    # Median and p95 when the database ranked them (a bucket's); else from ``latency``.
    latency_ranks: tuple[int, int] | None = None
    intents: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Counts) -> None:
        for name in ("conversations", "handed_off", "decided", "contained", "turns", "fallbacks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("ask_backs", "suggestion_clicks", "thumbs_up", "thumbs_down"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.csat.update(other.csat)
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        self.confidence_sum += other.confidence_sum
        self.latency.update(other.latency)
        self.intents.update(other.intents)


def summary(factory: sessionmaker[Session], scope: Scope, now: dt.datetime | None = None) -> Summary:
    """The range's figures; counted per adapter version in SQL, added up here."""
    with factory() as session:
        by_adapter = _counts(session, scope, None, now or dt.datetime.now(dt.UTC))
    total = _Counts()
    for adapter, counts in by_adapter.items():
        if scope.adapter is None or adapter == scope.adapter:
            total.add(counts)
    intents = sorted(total.intents.items(), key=lambda item: (-item[1], item[0]))
    return Summary(
        date_from=scope.first,
        date_to=scope.last,
        adapter=scope.adapter,
        idle_minutes=_idle_minutes(),
        figures=_figures(total),
        intents=[IntentVolume(intent=name, turns=count) for name, count in intents],
        adapters=[
            AdapterVolume(adapter=name, conversations=counts.conversations, turns=counts.turns)
            for name, counts in sorted(by_adapter.items())
        ],
    )


def timeseries(
    factory: sessionmaker[Session], scope: Scope, interval: Interval, now: dt.datetime | None = None
) -> Timeseries:
    bucket_of: BucketOf = utc_day if interval is Interval.day else utc_week
    with factory() as session:
        by_bucket = _counts(session, scope, bucket_of, now or dt.datetime.now(dt.UTC))
    buckets = [
        Bucket(start=start, **_figures(by_bucket.get(start, _Counts())).model_dump())
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


def _counts(session: Session, scope: Scope, bucket_of: BucketOf | None, now: dt.datetime) -> _ByKey:
    """Counts per bucket (``bucket_of`` given; only ``scope.adapter``'s rows) or, without it,
    per adapter version (all of them: the summary needs every version's volume)."""
    if session.get_bind().dialect.name == "postgresql":
        # Compiling these one-off aggregates to machine code took longer than running them.
        session.execute(text("SET LOCAL jit = off"))
    counts: _ByKey = _ByKey(_Counts)
    keys = _Keys(scope, bucket_of)
    _conversation_counts(session, keys, now, counts)
    _turn_counts(session, keys, counts)
    if bucket_of is None:
        _latency_counts(session, keys, counts)
    else:
        _latency_percentiles(session, keys, counts)
    return counts


class _ByKey(defaultdict[str, _Counts]):
    """Counts by key; a bucket key from the database (text or a date) is read as 'YYYY-MM-DD'."""

    def __getitem__(self, key: object) -> _Counts:
        return super().__getitem__(bucket_key(key))


@dataclass(frozen=True)
class _Keys:
    """What the rows are grouped by and which rows count, for conversations and for turns."""

    scope: Scope
    bucket_of: BucketOf | None

    def conversation_key(self) -> ColumnElement[str]:
        if self.bucket_of is None:
            return func.coalesce(CONVERSATIONS.c.first_adapter, "").label("key")
        return self.bucket_of(CONVERSATIONS.c.created_at).label("key")

    def turn_key(self) -> ColumnElement[str]:
        if self.bucket_of is None:
            return func.coalesce(MESSAGES.c.reply_adapter, "").label("key")
        return self.bucket_of(MESSAGES.c.created_at).label("key")

    def conversations(self) -> list[ColumnElement[bool]]:
        conditions = [
            CONVERSATIONS.c.created_at >= self.scope.start,
            CONVERSATIONS.c.created_at < self.scope.end,
            CONVERSATIONS.c.last_seq > 0,
        ]
        if self.bucket_of is not None and self.scope.adapter is not None:
            conditions.append(CONVERSATIONS.c.first_adapter == self.scope.adapter)
        return conditions

    def turns(self) -> list[ColumnElement[bool]]:
        conditions = [
            MESSAGES.c.role == "bot",
            MESSAGES.c.created_at >= self.scope.start,
            MESSAGES.c.created_at < self.scope.end,
        ]
        if self.bucket_of is not None and self.scope.adapter is not None:
            conditions.append(MESSAGES.c.reply_adapter == self.scope.adapter)
        return conditions


def _one(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ------------------------------------------------------------------ conversations --
def handed_off() -> ColumnElement[bool]:
    """A person was asked for or stepped in (for a row of ``conversations``)."""
    person_wrote_or_was_asked = CONVERSATIONS.c.id.in_(
        select(MESSAGES.c.conversation_id).where(
            or_(MESSAGES.c.role == "agent", MESSAGES.c.reply_action == HANDOFF_ACTION)
        )
    )
    return or_(
        CONVERSATIONS.c.status.in_(("waiting", "agent")),
        CONVERSATIONS.c.assigned_to_id.is_not(None),
        person_wrote_or_was_asked,
    )


def _conversation_counts(session: Session, keys: _Keys, now: dt.datetime, counts: _ByKey) -> None:
    """One pass over the range's conversations: hand-off, outcome, and each one's newest CSAT."""
    newest = select(func.max(CSAT.c.id).label("id")).group_by(CSAT.c.conversation_id).subquery()
    rated = select(CSAT.c.conversation_id, CSAT.c.rating).join(newest, newest.c.id == CSAT.c.id).subquery()
    flags = (
        select(
            keys.conversation_key(),
            handed_off().label("handed"),
            or_(
                CONVERSATIONS.c.status == "closed", CONVERSATIONS.c.updated_at <= now - CONTAINMENT_IDLE
            ).label("settled"),
            rated.c.rating,
        )
        .outerjoin(rated, rated.c.conversation_id == CONVERSATIONS.c.id)
        .where(*keys.conversations())
        .subquery()
    )
    query = select(
        flags.c.key,
        func.count(),
        _one(flags.c.handed),
        _one(or_(flags.c.handed, flags.c.settled)),
        _one(and_(flags.c.settled, not_(flags.c.handed))),
        *(_one(flags.c.rating == rating) for rating in CSAT_RATINGS),
    ).group_by(flags.c.key)
    for key, total, handed, decided, contained, *ratings in session.execute(query):
        row = counts[key]
        row.conversations, row.handed_off, row.decided, row.contained = total, handed, decided, contained
        row.csat.update({rating: int(n) for rating, n in zip(CSAT_RATINGS, ratings, strict=True) if n})


# ------------------------------------------------------------------------ turns --
def confidence_bins(column: ColumnElement[float]) -> list[ColumnElement[bool]]:
    """Whether a confidence falls in each tenth, 0-9 (1.0 in the last), by comparisons both
    engines agree on. Edges are rounded: 3 / 10 is 0.30000000000000004 in binary."""
    edges = [round(step / CONFIDENCE_BINS, 6) for step in range(1, CONFIDENCE_BINS)]
    lower: list[ColumnElement[bool]] = [column < edges[0]]
    middle = [and_(column >= low, column < high) for low, high in zip(edges, edges[1:], strict=False)]
    return lower + middle + [column >= edges[-1]]


def _turn_counts(session: Session, keys: _Keys, counts: _ByKey) -> None:
    """One pass over the range's bot replies: volume, actions, clicks, confidence, intents."""
    key = keys.turn_key()
    action = MESSAGES.c.reply_action
    confidence = MESSAGES.c.reply_confidence
    clicked = MESSAGES.c.reply_to_id.in_(
        select(LABELS.c.message_id).where(LABELS.c.source == SUGGESTION_CLICK)
    )
    newest = select(func.max(FEEDBACK.c.id).label("id")).group_by(FEEDBACK.c.message_id).subquery()
    thumbs = (
        select(FEEDBACK.c.message_id, FEEDBACK.c.rating).join(newest, newest.c.id == FEEDBACK.c.id).subquery()
    )
    # Intents only for a summary: grouping a timeseries by them too would multiply its groups.
    intent = (
        case((action.in_(FALLBACK_ACTIONS), OUT_OF_SCOPE), else_=MESSAGES.c.reply_intent)
        if keys.bucket_of is None
        else literal(None, String())
    ).label("intent")
    query = (
        select(
            key,
            action,
            intent,
            func.count(),
            _one(and_(action == ASK_BACK_ACTION, clicked)),
            _one(thumbs.c.rating == "up"),
            _one(thumbs.c.rating == "down"),
            func.coalesce(func.sum(confidence), 0.0),
            *(_one(in_bin) for in_bin in confidence_bins(confidence)),
        )
        .outerjoin(thumbs, thumbs.c.message_id == MESSAGES.c.id)
        .where(*keys.turns())
        .group_by(key, action, *([intent] if keys.bucket_of is None else []))
    )
    for (
        key_value,
        action_value,
        intent_value,
        turns,
        clicks,
        up,
        down,
        confidence_sum,
        *histogram,
    ) in session.execute(query):
        row = counts[key_value]
        row.turns += turns
        row.thumbs_up += up
        row.thumbs_down += down
        row.fallbacks += turns if action_value in FALLBACK_ACTIONS else 0
        row.ask_backs += turns if action_value == ASK_BACK_ACTION else 0
        row.suggestion_clicks += clicks
        row.confidence_sum += float(confidence_sum)
        row.histogram = [a + int(b) for a, b in zip(row.histogram, histogram, strict=True)]
        if keys.bucket_of is None and (action_value in ANSWER_ACTIONS or action_value in FALLBACK_ACTIONS):
            row.intents[str(intent_value or "")] += turns


def _latency_counts(session: Session, keys: _Keys, counts: _ByKey) -> None:
    """How many replies took each whole number of milliseconds: exact percentiles come from
    these counts (``nearest_rank``) with no sort of the rows, and add up across keys."""
    key = keys.turn_key()
    query = (
        select(key, MESSAGES.c.reply_ms, func.count())
        .where(*keys.turns(), MESSAGES.c.reply_ms.is_not(None))
        .group_by(key, MESSAGES.c.reply_ms)
    )
    for key_value, ms, count in session.execute(query):
        counts[key_value].latency[int(ms)] += int(count)


def _latency_percentiles(session: Session, keys: _Keys, counts: _ByKey) -> None:
    """Median and p95 per bucket in SQL (a timeseries has too many buckets to ship every
    bucket's latency counts): nearest rank is the smallest value whose running count reaches
    percent / 100 of the bucket's count, compared in integers on both engines."""
    key = keys.turn_key()
    histogram = (
        select(key, MESSAGES.c.reply_ms.label("ms"), func.count().label("n"))
        .where(*keys.turns(), MESSAGES.c.reply_ms.is_not(None))
        .group_by(key, MESSAGES.c.reply_ms)
        .subquery()
    )
    running = select(
        histogram.c.key,
        histogram.c.ms,
        func.sum(histogram.c.n).over(partition_by=histogram.c.key, order_by=histogram.c.ms).label("running"),
        func.sum(histogram.c.n).over(partition_by=histogram.c.key).label("total"),
    ).subquery()
    reached = {
        percent: func.min(case((100 * running.c.running >= percent * running.c.total, running.c.ms)))
        for percent in (50, 95)
    }
    query = select(running.c.key, reached[50], reached[95]).group_by(running.c.key)
    for key_value, median, p95 in session.execute(query):
        counts[key_value].latency_ranks = (int(median), int(p95))


def nearest_rank(histogram: Counter[int], percent: int) -> int | None:
    """The value at rank ceil(percent / 100 * n) in ascending order; None with no values."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = (percent * total + 99) // 100
    running = 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= rank:
            return value
    return None  # unreachable: the ranks end at total


# ---------------------------------------------------------------------- figures --
def _rate(count: int, base: int) -> float | None:
    return round(count / base, 4) if base else None


def _figures(c: _Counts) -> Figures:
    distribution = {str(r): int(c.csat.get(r, 0)) for r in range(1, 6)}
    rated = sum(distribution.values())
    predicted = sum(c.histogram)
    return Figures(
        conversations=c.conversations,
        handed_off=c.handed_off,
        handoff_rate=_rate(c.handed_off, c.conversations),
        decided=c.decided,
        contained=c.contained,
        containment_rate=_rate(c.contained, c.decided),
        turns=c.turns,
        fallbacks=c.fallbacks,
        fallback_rate=_rate(c.fallbacks, c.turns),
        ask_backs=c.ask_backs,
        ask_back_rate=_rate(c.ask_backs, c.turns),
        suggestion_clicks=c.suggestion_clicks,
        suggestion_click_rate=_rate(c.suggestion_clicks, c.ask_backs),
        thumbs_up=c.thumbs_up,
        thumbs_down=c.thumbs_down,
        csat_count=rated,
        csat_average=round(sum(int(r) * n for r, n in distribution.items()) / rated, 3) if rated else None,
        csat_distribution=distribution,
        latency_median_ms=c.latency_ranks[0] if c.latency_ranks else nearest_rank(c.latency, 50),
        latency_p95_ms=c.latency_ranks[1] if c.latency_ranks else nearest_rank(c.latency, 95),
        confidence_mean=round(c.confidence_sum / predicted, 4) if predicted else None,
        confidence_histogram=list(c.histogram),
    )
