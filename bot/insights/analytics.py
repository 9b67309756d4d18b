"""How well the bot serves: conversation and turn figures over a date range, per adapter version.

Every figure is an aggregate in SQL (SQLAlchemy Core) over plain columns, so SQLite and
PostgreSQL return the same numbers; percentiles are nearest-rank (the value at rank
ceil(p/100 * n) in ascending order), which both engines compute exactly from counts per
millisecond.

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

Each request is three kinds of grouped reads (conversations with their newest CSAT; bot
replies with their newest thumb and suggestion clicks; the replies' latencies), keyed by bucket
or by adapter version and added up in Python, so a summary shows every version's volume. Each
kind reads the daily sums (``rollup``) of the range's closed days and scans the tables only for
the other days, with the same SELECTs (``figure_queries``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, case, func, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import utc_midnight
from bot.db.review import FALLBACK_ACTIONS, HANDOFF_ACTION
from bot.errors import InvalidInput
from bot.insights import rollup
from bot.insights.figure_queries import (
    ASK_BACK_ACTION,
    CONFIDENCE_BINS,
    CONTAINMENT_IDLE,
    CONVERSATIONS,
    CSAT_RATINGS,
    MESSAGES,
    conversation_adapter,
    conversation_figures,
    latency_figures,
    reply_action,
    reply_adapter,
    reply_intent,
    turn_figures,
)
from bot.insights.sql_time import bucket_key, utc_day, utc_week, week_of_day

MAX_RANGE_DAYS = 366
ANSWER_ACTIONS = ("answer", HANDOFF_ACTION)
OUT_OF_SCOPE = "out_of_scope"


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
        return utc_midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        return utc_midnight(self.last + dt.timedelta(days=1))


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
    by_adapter = _counts(factory, scope, None, now or dt.datetime.now(dt.UTC))
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
    by_bucket = _counts(factory, scope, interval, now or dt.datetime.now(dt.UTC))
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


def _counts(
    factory: sessionmaker[Session], scope: Scope, interval: Interval | None, now: dt.datetime
) -> _ByKey:
    """Counts per bucket (``interval`` given; only ``scope.adapter``'s rows) or, without it,
    per adapter version (all of them: the summary needs every version's volume). Closed days
    come from their roll-ups (built first where missing or stale), the rest from the tables."""
    rollup.refresh(factory, scope.first, scope.last, now)
    counts: _ByKey = _ByKey(_Counts)
    with factory() as session:
        rollup.without_jit(session)
        summed = rollup.summed_days(session, scope.first, scope.last, now)
        plan = _Plan(scope, interval, rollup.day_runs(summed), _live_runs(scope, summed))
        for query in plan.conversations(now):
            _add_conversations(session.execute(query), counts)
        for query in plan.turns():
            _add_turns(session.execute(query), counts, by_intent=interval is None)
        if interval is None:
            for query in plan.latencies():
                for row in session.execute(query):
                    counts[row.key].latency[int(row.ms)] += int(row.replies)
        else:
            _latency_percentiles(session, plan, counts)
    return counts


def _live_runs(scope: Scope, summed: list[dt.date]) -> list[rollup.DayRun]:
    done = set(summed)
    return rollup.day_runs(day for day in rollup.each_day(scope.first, scope.last) if day not in done)


class _ByKey(defaultdict[str, _Counts]):
    """Counts by key; a bucket key from the database (text or a date) is read as 'YYYY-MM-DD'."""

    def __getitem__(self, key: object) -> _Counts:
        return super().__getitem__(bucket_key(key))


@dataclass(frozen=True)
class _Plan:
    """The statements of one request: each figure from the roll-ups of the ``summed`` days and
    from the tables for the ``live`` ones, grouped by bucket or by adapter version alike."""

    scope: Scope
    interval: Interval | None
    summed: list[rollup.DayRun]
    live: list[rollup.DayRun]

    def _bucket_of_time(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        return utc_day(column) if self.interval is Interval.day else utc_week(column)

    def _bucket_of_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column if self.interval is Interval.day else week_of_day(column)

    def _only_adapter(self, column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        """A timeseries shows one version's rows; a summary reads all and picks in Python."""
        if self.interval is not None and self.scope.adapter is not None:
            return [column == self.scope.adapter]
        return []

    def conversations(self, now: dt.datetime) -> list[Select[Any]]:
        queries = []
        if self.live:
            created = CONVERSATIONS.c.created_at
            key = conversation_adapter() if self.interval is None else self._bucket_of_time(created)
            where = [rollup.in_days(created, self.live), *self._only_adapter(CONVERSATIONS.c.first_adapter)]
            queries.append(conversation_figures([key.label("key")], where, now))
        if self.summed:
            table = rollup.CONVERSATION_DAYS
            key = table.c.adapter if self.interval is None else self._bucket_of_day(table.c.day)
            where = [rollup.on_days(table.c.day, self.summed), *self._only_adapter(table.c.adapter)]
            queries.append(rollup.sums(table, [key.label("key")], where))
        return queries

    def turns(self) -> list[Select[Any]]:
        queries = []
        if self.live:
            created = MESSAGES.c.created_at
            where = [rollup.in_days(created, self.live), *self._only_adapter(MESSAGES.c.reply_adapter)]
            if self.interval is None:
                keys = [
                    reply_adapter().label("key"),
                    reply_action().label("action"),
                    reply_intent().label("intent"),
                ]
            else:
                # Intents only for a summary: grouping a timeseries by them too would multiply its groups.
                keys = [self._bucket_of_time(created).label("key"), reply_action().label("action")]
            queries.append(turn_figures(keys, where))
        if self.summed:
            table = rollup.TURN_DAYS
            where = [rollup.on_days(table.c.day, self.summed), *self._only_adapter(table.c.adapter)]
            summed_keys: list[ColumnElement[Any]] = (
                [table.c.adapter.label("key"), table.c.action, table.c.intent]
                if self.interval is None
                else [self._bucket_of_day(table.c.day).label("key"), table.c.action]
            )
            queries.append(rollup.sums(table, summed_keys, where))
        return queries

    def latencies(self) -> list[Select[Any]]:
        """(key, ms, replies): how many replies of each key took each millisecond."""
        queries = []
        if self.live:
            created = MESSAGES.c.created_at
            key = reply_adapter() if self.interval is None else self._bucket_of_time(created)
            where = [rollup.in_days(created, self.live), *self._only_adapter(MESSAGES.c.reply_adapter)]
            queries.append(latency_figures([key.label("key")], where))
        if self.summed:
            table = rollup.LATENCY_DAYS
            key = table.c.adapter if self.interval is None else self._bucket_of_day(table.c.day)
            where = [rollup.on_days(table.c.day, self.summed), *self._only_adapter(table.c.adapter)]
            queries.append(rollup.sums(table, [key.label("key"), table.c.ms], where))
        return queries


def _add_conversations(rows: Iterable[Any], counts: _ByKey) -> None:
    for row in rows:
        counts_of = counts[row.key]
        counts_of.conversations += int(row.conversations)
        counts_of.handed_off += int(row.handed_off)
        counts_of.decided += int(row.decided)
        counts_of.contained += int(row.contained)
        for rating in CSAT_RATINGS:
            if n := int(getattr(row, f"csat_{rating}")):
                counts_of.csat[rating] += n


def _add_turns(rows: Iterable[Any], counts: _ByKey, by_intent: bool) -> None:
    for row in rows:
        counts_of = counts[row.key]
        turns = int(row.turns)
        counts_of.turns += turns
        counts_of.thumbs_up += int(row.thumbs_up)
        counts_of.thumbs_down += int(row.thumbs_down)
        counts_of.fallbacks += turns if row.action in FALLBACK_ACTIONS else 0
        counts_of.ask_backs += turns if row.action == ASK_BACK_ACTION else 0
        counts_of.suggestion_clicks += int(row.suggestion_clicks)
        counts_of.confidence_sum += float(row.confidence_sum)
        tenths = (int(getattr(row, f"confidence_{tenth}")) for tenth in range(CONFIDENCE_BINS))
        counts_of.histogram = [a + b for a, b in zip(counts_of.histogram, tenths, strict=True)]
        if by_intent and (row.action in ANSWER_ACTIONS or row.action in FALLBACK_ACTIONS):
            counts_of.intents[OUT_OF_SCOPE if row.action in FALLBACK_ACTIONS else row.intent] += turns


def _latency_percentiles(session: Session, plan: _Plan, counts: _ByKey) -> None:
    """Median and p95 per bucket in SQL (a timeseries has too many buckets to ship every
    bucket's latency counts): nearest rank is the smallest value whose running count reaches
    percent / 100 of the bucket's count, compared in integers on both engines."""
    parts = plan.latencies()
    if not parts:
        return
    both = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    histogram = (
        select(both.c.key, both.c.ms, func.sum(both.c.replies).label("n"))
        .group_by(both.c.key, both.c.ms)
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
