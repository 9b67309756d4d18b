"""UTC calendar buckets of a timestamp column, on SQLite and PostgreSQL.

The two engines spell date truncation differently; each function compiles to its engine's own
spelling so a GROUP BY runs in the database. SQLite keeps timestamps as UTC text (SQLAlchemy
writes them so) and answers 'YYYY-MM-DD' text; PostgreSQL keeps timestamptz and answers a date
(a cast, several times cheaper per row than formatting text): ``bucket_key`` makes both the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement[str]):  # noqa: N801 - reads as the SQL function it stands for
    """The UTC day of a timestamp."""

    type = String()
    inherit_cache = True
    name = "utc_day"


class utc_week(FunctionElement[str]):  # noqa: N801
    """The Monday (UTC) of a timestamp's ISO week."""

    type = String()
    inherit_cache = True
    name = "utc_week"


class week_of_day(FunctionElement[str]):  # noqa: N801
    """The Monday of a DATE column's ISO week (a roll-up's day; no time zone involved)."""

    type = String()
    inherit_cache = True
    name = "week_of_day"


@compiles(utc_day, "sqlite")
def _day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


@compiles(utc_week, "sqlite")
@compiles(week_of_day, "sqlite")  # SQLite's date() reads a timestamp's text and a day's alike
def _week_sqlite(element: utc_week | week_of_day, compiler: Any, **kw: Any) -> str:
    # 'weekday 0' moves on to the next Sunday (or stays on one); six days back is its Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(utc_week, "postgresql")
def _week_postgresql(element: utc_week, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(date_trunc('week', ({column}) AT TIME ZONE 'UTC') AS DATE)"


@compiles(week_of_day, "postgresql")
def _week_of_day_postgresql(element: week_of_day, compiler: Any, **kw: Any) -> str:
    # Through TIMESTAMP (no zone): a date would otherwise be read in the session's time zone.
    return f"CAST(date_trunc('week', CAST(({compiler.process(element.clauses, **kw)}) AS TIMESTAMP)) AS DATE)"


def bucket_key(value: object) -> str:
    """A bucket as 'YYYY-MM-DD' text, from either engine's answer."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)
