"""Daily roll-ups of the analytics figures, so a 90-day request reads sums, not every message.

A closed UTC day's figures are summed once, per adapter version (and for bot replies per action
and intent), into ``analytics_conversation_days``, ``analytics_turn_days`` and
``analytics_latency_days`` by the same SELECTs a live request runs (``figure_queries``), so a
request adds up a few hundred rows for the days it can and scans live only the rest (today,
and any day changed since its sums were built).

When a day may be summed: it ended at least ``CONTAINMENT_IDLE`` ago, and none of its
conversations is still going (not closed, written in within ``CONTAINMENT_IDLE``): such a
conversation's outcome would change with the clock alone, with no write to notice.

Staying right: every later write that touches a day's figures (a late thumb or CSAT rating, a
suggestion click after midnight, a conversation resumed, taken over or assigned, an erasure)
adds one to ``analytics_days.changes`` for that day, by triggers (migration 0012), so no write
path can forget it. A day's sums count only while ``built_changes`` equals ``changes``. The
builder locks the days' rows before it reads, so a write either committed before the sums were
read (and is in them) or waits for the builder and then moves the count on. The triggers skip
today's rows, which is why a day is summed only ``CONTAINMENT_IDLE`` after it ended: a write
that started before midnight has long committed by then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import anyio
from anyio import to_thread
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import (
    AnalyticsConversationDay,
    AnalyticsDay,
    AnalyticsLatencyDay,
    AnalyticsTurnDay,
    as_utc,
    utc_midnight,
    utcnow,
)
from bot.insights.figure_queries import (
    CONTAINMENT_IDLE,
    CONVERSATIONS,
    MESSAGES,
    Key,
    conversation_adapter,
    conversation_figures,
    latency_figures,
    reply_action,
    reply_adapter,
    reply_intent,
    turn_figures,
)
from bot.insights.sql_time import bucket_key, utc_day

log = logging.getLogger(__name__)

DAYS = cast(Table, AnalyticsDay.__table__)
CONVERSATION_DAYS = cast(Table, AnalyticsConversationDay.__table__)
TURN_DAYS = cast(Table, AnalyticsTurnDay.__table__)
LATENCY_DAYS = cast(Table, AnalyticsLatencyDay.__table__)
SUMS = (CONVERSATION_DAYS, TURN_DAYS, LATENCY_DAYS)

# Days built per transaction: a first build of a year holds each month's day rows (and so
# writes to those days, which are rare) only as long as that month's scan takes.
BUILD_CHUNK_DAYS = 31
REFRESH_DAYS = 366  # the longest range a request may ask for
REFRESH_EVERY_S = 600.0
FIRST_REFRESH_AFTER_S = 10.0

DayRun = tuple[dt.date, dt.date]  # first and last day, both included


# ----------------------------------------------------------------------- days --
def day_runs(days: Iterable[dt.date]) -> list[DayRun]:
    """Sorted days as runs of consecutive days, so a condition stays a few BETWEENs."""
    runs: list[DayRun] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def each_day(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def in_days(column: ColumnElement[Any], runs: Sequence[DayRun]) -> ColumnElement[bool]:
    """A timestamp column within the runs' UTC days (an index range scan per run)."""
    return or_(
        *(
            and_(column >= utc_midnight(first), column < utc_midnight(last + dt.timedelta(days=1)))
            for first, last in runs
        )
    )


def on_days(column: ColumnElement[dt.date], runs: Sequence[DayRun]) -> ColumnElement[bool]:
    """A DATE column (a roll-up's day) on one of the runs' days."""
    return or_(*(column.between(first, last) for first, last in runs))


def last_closed_day(now: dt.datetime) -> dt.date:
    """The last day whose figures no longer change without a write (see the module's text)."""
    settled = min(now, utcnow()) - CONTAINMENT_IDLE
    return settled.date() - dt.timedelta(days=1)


def summed_days(session: Session, first: dt.date, last: dt.date, now: dt.datetime) -> list[dt.date]:
    """The days of ``first``..``last`` whose sums are current: built at the change count the day
    still has, and for a moment no later than ``now`` (a request asking about an earlier
    moment, as tests do, could see conversations decided that were not yet)."""
    query = select(DAYS.c.day).where(DAYS.c.day.between(first, last), _current(now)).order_by(DAYS.c.day)
    return list(session.scalars(query))


def _current(now: dt.datetime) -> ColumnElement[bool]:
    """A day row whose sums may be read: built at its change count, for no later moment."""
    return and_(DAYS.c.built_changes == DAYS.c.changes, DAYS.c.built_for <= now)


# --------------------------------------------------------------------- reading --
def sums(
    table: Table, keys: Sequence[Key | ColumnElement[Any]], where: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """A roll-up's counts added up per key, named as the live SELECTs name them."""
    values = [column for column in table.c if not column.primary_key]
    return (
        select(*keys, *(func.coalesce(func.sum(column), 0).label(column.name) for column in values))
        .where(*where)
        .group_by(*keys)
    )


# -------------------------------------------------------------------- building --
def refresh(factory: sessionmaker[Session], first: dt.date, last: dt.date, now: dt.datetime) -> int:
    """Build the sums of every closed day in ``first``..``last`` that has none or stale ones;
    returns how many days were built (days with a conversation still going are left live)."""
    last = min(last, last_closed_day(now))
    if last < first:
        return 0
    with factory() as session:
        # Days before the first conversation have nothing to sum (their scan is empty), and a
        # range in another century must not leave a row per day behind.
        earliest = _earliest_day(session)
        if earliest is None or last < earliest:
            return 0
        first = max(first, earliest)
        current = set(summed_days(session, first, last, now))
    stale = [day for day in each_day(first, last) if day not in current]
    built = 0
    for start in range(0, len(stale), BUILD_CHUNK_DAYS):
        built += _build(factory, stale[start : start + BUILD_CHUNK_DAYS], now)
    return built


def _earliest_day(session: Session) -> dt.date | None:
    oldest = [
        session.scalar(select(func.min(CONVERSATIONS.c.created_at))),
        session.scalar(select(func.min(MESSAGES.c.created_at))),
    ]
    stamps = [as_utc(stamp) for stamp in oldest if stamp is not None]
    return min(stamps).astimezone(dt.UTC).date() if stamps else None


def _build(factory: sessionmaker[Session], days: list[dt.date], now: dt.datetime) -> int:
    with factory() as session, session.begin():
        without_jit(session)
        # First a write: on SQLite it takes the database's write lock before anything is read.
        session.execute(_claim(session, days))
        rows = session.execute(
            select(DAYS.c.day, DAYS.c.changes, _current(now).label("current"))
            .where(DAYS.c.day.in_(days))
            .order_by(DAYS.c.day)
            .with_for_update()
        ).all()
        # Another process may have built some while this one waited for the locks.
        todo = {row.day: row.changes for row in rows if not row.current}
        for day in _days_still_going(session, day_runs(todo), now):
            del todo[day]
        if not todo:
            return 0
        runs = day_runs(todo)
        for table in SUMS:
            session.execute(delete(table).where(on_days(table.c.day, runs)))
        for table, query in _day_figures(runs, now):
            session.execute(insert(table).from_select(list(query.selected_columns.keys()), query))
        session.execute(
            update(DAYS)
            .where(DAYS.c.day == bindparam("built_day"))
            .values(built_changes=bindparam("seen_changes"), built_for=now),
            [{"built_day": day, "seen_changes": changes} for day, changes in todo.items()],
        )
        return len(todo)


def _claim(session: Session, days: list[dt.date]) -> Any:
    """Insert the days' rows where missing (a trigger's write waits on this, and this on it)."""
    rows = [{"day": day, "changes": 0} for day in days]
    if session.get_bind().dialect.name == "postgresql":
        return postgres_insert(DAYS).values(rows).on_conflict_do_nothing(index_elements=["day"])
    return sqlite_insert(DAYS).values(rows).on_conflict_do_nothing(index_elements=["day"])


def _days_still_going(session: Session, runs: list[DayRun], now: dt.datetime) -> set[dt.date]:
    if not runs:
        return set()
    day = utc_day(CONVERSATIONS.c.created_at)
    query = (
        select(day)
        .where(
            in_days(CONVERSATIONS.c.created_at, runs),
            CONVERSATIONS.c.last_seq > 0,  # the widget opened, nobody wrote: not a conversation (yet)
            CONVERSATIONS.c.status != "closed",
            CONVERSATIONS.c.updated_at > now - CONTAINMENT_IDLE,
        )
        .group_by(day)
    )
    return {_as_date(value) for value in session.scalars(query)}


def _as_date(value: object) -> dt.date:
    return dt.date.fromisoformat(bucket_key(value))


def _day_figures(runs: list[DayRun], now: dt.datetime) -> list[tuple[Table, Select[Any]]]:
    """Each roll-up table with the live SELECT that fills it for the runs' days."""
    conversation_day = utc_day(CONVERSATIONS.c.created_at).label("day")
    reply_day = utc_day(MESSAGES.c.created_at).label("day")
    replies = [in_days(MESSAGES.c.created_at, runs)]
    return [
        (
            CONVERSATION_DAYS,
            conversation_figures(
                [conversation_day, conversation_adapter().label("adapter")],
                [in_days(CONVERSATIONS.c.created_at, runs)],
                now,
            ),
        ),
        (
            TURN_DAYS,
            turn_figures(
                [
                    reply_day,
                    reply_adapter().label("adapter"),
                    reply_action().label("action"),
                    reply_intent().label("intent"),
                ],
                replies,
            ),
        ),
        (LATENCY_DAYS, latency_figures([reply_day, reply_adapter().label("adapter")], replies)),
    ]


def without_jit(session: Session) -> None:
    """PostgreSQL compiled these one-off aggregates to machine code for longer than they ran."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


async def refresh_every(factory: sessionmaker[Session], interval_s: float = REFRESH_EVERY_S) -> None:
    """Keep the last year's sums built, so requests rarely build any themselves: shortly after
    start (a first start after the upgrade builds them all, a few seconds for a million
    messages), then every ``interval_s``. Any process may: builders take turns on the rows."""
    await anyio.sleep(min(FIRST_REFRESH_AFTER_S, interval_s))
    while True:
        today = utcnow().date()
        try:
            built = await to_thread.run_sync(
                refresh, factory, today - dt.timedelta(days=REFRESH_DAYS - 1), today, utcnow()
            )
        except Exception:  # noqa: BLE001 - a database restart must not end the loop
            log.exception("building the analytics roll-ups failed")
        else:
            if built:
                log.info("analytics roll-ups: built %d day(s)", built)
        await anyio.sleep(interval_s)
