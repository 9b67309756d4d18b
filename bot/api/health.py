"""Liveness and readiness for load balancers and operators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from bot.api.deps import services_of

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    services = services_of(request)
    with services.session_factory() as session:
        session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "adapter": services.slot.current.version,
        "intents": len(services.slot.current.labels),
        "articles": len(services.index.articles),
    }
