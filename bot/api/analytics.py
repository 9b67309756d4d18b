"""Analytics for every staff role, under ``/api/analytics``: JSON, or CSV with ``format=csv``."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from bot.api.deps import services_of
from bot.api.staff_deps import CurrentStaff
from bot.insights import analytics
from bot.insights.action_figures import ActionReport, action_report
from bot.insights.analytics import Figures, Interval, Scope, Summary, Timeseries

router = APIRouter(prefix="/api/analytics")

DEFAULT_DAYS = 30
DateFrom = Annotated[
    dt.date | None, Query(alias="from", description="First UTC day (default: 29 days before 'to')")
]
DateTo = Annotated[dt.date | None, Query(alias="to", description="Last UTC day, included (default: today)")]
AdapterParam = Annotated[str | None, Query(max_length=200, description="Only this adapter version")]
Format = Annotated[Literal["json", "csv"], Query(description="csv downloads the same figures as a table")]


def scope_of(date_from: DateFrom = None, date_to: DateTo = None, adapter: AdapterParam = None) -> Scope:
    """The range every analytics route reads from its ``from``, ``to`` and ``adapter`` query."""
    last = date_to or dt.datetime.now(dt.UTC).date()
    first = date_from or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    return Scope(first, last, adapter or None)


ScopeParam = Annotated[Scope, Depends(scope_of)]


@router.get("/summary", response_model=Summary, response_model_by_alias=True)
async def summary(
    request: Request,
    staff: CurrentStaff,
    scope: ScopeParam,
    format: Format = "json",
) -> Any:
    result = await to_thread.run_sync(analytics.summary, services_of(request).session_factory, scope)
    if format == "csv":
        rows = [{"from": scope.first.isoformat(), "to": scope.last.isoformat(), **_flat(result.figures)}]
        return _csv(rows, f"analytics-summary-{scope.first}-{scope.last}.csv")
    return result


@router.get("/timeseries", response_model=Timeseries, response_model_by_alias=True)
async def timeseries(
    request: Request,
    staff: CurrentStaff,
    scope: ScopeParam,
    interval: Interval = Interval.day,
    format: Format = "json",
) -> Any:
    factory = services_of(request).session_factory
    result = await to_thread.run_sync(analytics.timeseries, factory, scope, interval)
    if format == "csv":
        rows = [{"start": bucket.start, **_flat(bucket)} for bucket in result.buckets]
        return _csv(rows, f"analytics-{interval}-{scope.first}-{scope.last}.csv")
    return result


@router.get("/actions", response_model=ActionReport, response_model_by_alias=True)
async def actions(
    request: Request,
    staff: CurrentStaff,
    scope: ScopeParam,
    format: Format = "json",
) -> Any:
    """Per business action: calls, how they ended (ok, not_found, failed, circuit_open, ...)
    and their median and p95 milliseconds."""
    result = await to_thread.run_sync(action_report, services_of(request).session_factory, scope)
    if format == "csv":
        rows = [
            {
                **figures.model_dump(exclude={"outcomes"}),
                **{f"outcome_{k}": v for k, v in figures.outcomes.items()},
            }
            for figures in result.actions
        ]
        return _csv(rows, f"analytics-actions-{scope.first}-{scope.last}.csv")
    return result


def _flat(figures: Figures) -> dict[str, Any]:
    """One CSV row: the distribution and the histogram spread over columns of their own."""
    row: dict[str, Any] = {}
    for name, value in figures.model_dump(exclude={"start"}).items():
        if name == "csat_distribution":
            row.update({f"csat_{rating}": count for rating, count in value.items()})
        elif name == "confidence_histogram":
            step = 1 / len(value)
            row.update({f"confidence_{index * step:.1f}": count for index, count in enumerate(value)})
        else:
            row[name] = "" if value is None else value
    return row


def _csv(rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["start"])
    writer.writeheader()
    writer.writerows(rows)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
