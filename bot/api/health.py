"""Liveness and readiness for load balancers and operators."""

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
    }
    if erased_turns:
        # Readiness is not affected (the status stays 200): the model still answers correctly,
        # but it learnt from turns a customer has had erased, so an operator should retrain.
        body["warnings"] = [
            f"the serving adapter {adapter} was trained on {erased_turns} customer turns that have "
            "since been erased; run `bot retrain` and promote the new version"
        ]
    return body
