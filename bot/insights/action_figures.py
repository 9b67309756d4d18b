"""Business actions in the analytics: per action, how its calls ended and how long they took.

Read from the plain columns a bot reply gets when its turn called an action
(``Message.action_name``, ``action_outcome``, ``action_ms``; ``bot.db.chat_store.reply_facts``).
An open circuit shows as calls that ended ``circuit_open``: the breaker's current state is per
process and lives in the console's action list; this is what customers met over the range.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import cast

from pydantic import BaseModel, Field
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Message
from bot.insights.analytics import Scope, nearest_rank

MESSAGES = cast(Table, Message.__table__)
OK = "ok"


class ActionFigures(BaseModel):
    action: str
    calls: int = Field(description="Replies whose turn ended a call of the action (or refused one)")
    ok: int = Field(description="Calls that found what they looked up")
    failures: int = Field(description="Calls that ended in anything but ok")
    failure_rate: float | None
    outcomes: dict[str, int] = Field(description="Calls per outcome: ok, not_found, failed, circuit_open...")
    latency_median_ms: int | None = Field(description="Over calls that reached the backend")
    latency_p95_ms: int | None


class ActionReport(BaseModel):
    date_from: dt.date = Field(serialization_alias="from")
    date_to: dt.date = Field(serialization_alias="to")
    adapter: str | None
    actions: list[ActionFigures]


def action_report(factory: sessionmaker[Session], scope: Scope) -> ActionReport:
    with factory() as session:
        actions = action_figures(session, scope)
    return ActionReport(date_from=scope.first, date_to=scope.last, adapter=scope.adapter, actions=actions)


def action_figures(session: Session, scope: Scope) -> list[ActionFigures]:
    """Every action called in ``scope`` (its adapter filter applies to the replies too)."""
    conditions = [
        MESSAGES.c.role == "bot",
        MESSAGES.c.action_name.is_not(None),
        MESSAGES.c.created_at >= scope.start,
        MESSAGES.c.created_at < scope.end,
    ]
    if scope.adapter is not None:
        conditions.append(MESSAGES.c.reply_adapter == scope.adapter)
    rows = session.execute(
        select(MESSAGES.c.action_name, MESSAGES.c.action_outcome, MESSAGES.c.action_ms, func.count())
        .where(*conditions)
        .group_by(MESSAGES.c.action_name, MESSAGES.c.action_outcome, MESSAGES.c.action_ms)
    ).all()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    latencies: dict[str, Counter[int]] = defaultdict(Counter)
    for name, outcome, milliseconds, count in rows:
        outcomes[name][outcome or "unknown"] += count
        if milliseconds is not None:
            latencies[name][milliseconds] += count
    return [_figures(name, outcomes[name], latencies[name]) for name in sorted(outcomes)]


def _figures(name: str, outcomes: Counter[str], latency: Counter[int]) -> ActionFigures:
    calls = sum(outcomes.values())
    failures = calls - outcomes[OK]
    return ActionFigures(
        action=name,
        calls=calls,
        ok=outcomes[OK],
        failures=failures,
        failure_rate=round(failures / calls, 4) if calls else None,
        outcomes=dict(sorted(outcomes.items())),
        latency_median_ms=nearest_rank(latency, 50),
        latency_p95_ms=nearest_rank(latency, 95),
    )
