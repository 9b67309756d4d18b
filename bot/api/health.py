"""Liveness and readiness for load balancers and operators.

The status code answers one question, "can this process serve customers?": 200 unless the
database does not answer (the query raises, and the answer is a 500). Redis is reported but does
not fail readiness: without it every process still answers its customers (only live events
between processes wait), and taking all processes out of a load balancer because the one Redis
they share is down would turn a degraded service into none.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from bot.api.deps import services_of
from bot.db.models import AdapterVersion

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    services = services_of(request)
    adapter = services.slot.current.version
    # One query both proves the database answers and reads the serving version's privacy mark.
    with services.session_factory() as session:
        erased_turns = session.scalar(select(AdapterVersion.erased_turns).where(AdapterVersion.id == adapter))
    body: dict[str, Any] = {
        "status": "ok",
        "adapter": adapter,
        "intents": len(services.slot.current.labels),
        "articles": len(services.index.articles),
        "adapter_erased_turns": erased_turns or 0,
        # off: one process (no BOT_REDIS_URL); ok / down: live events between processes.
        "redis": services.hub.redis_state,
    }
    warnings: list[str] = []
    if erased_turns:
        # Readiness is not affected (the status stays 200): the model still answers correctly,
        # but it learnt from turns a customer has had erased, so an operator should retrain.
        warnings.append(
            f"the serving adapter {adapter} was trained on {erased_turns} customer turns that have "
            "since been erased; run `bot retrain` and promote the new version"
        )
    if body["redis"] == "down":
        warnings.append(
            "Redis does not answer: customers are answered, but live events between processes wait "
            "(up to 10,000 kept) and rate limits count per process until it is back"
        )
    if warnings:
        body["warnings"] = warnings
    return body
