"""The adapter registry for operators, under ``/api/adapters``: list, inspect, promote, roll back, shadow.

Promotion runs the same gate as ``bot adapters promote``; the running server picks up the
result through its registry watcher, so nothing here touches the serving model directly.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import OperatorStaff
from bot.intents import registry
from bot.learning.retrain import promote

router = APIRouter(prefix="/api/adapters")


class PromoteBody(BaseModel):
    reason: str = Field(default="", max_length=2000, description="Why; recorded with the promotion.")
    force: bool = Field(default=False, description="Promote even if the gate refuses; needs a reason.")


class RollbackBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why; recorded with the rollback.")


class ShadowBody(BaseModel):
    on: bool = Field(description="True puts the candidate in shadow mode, false takes it out.")


@router.get("")
def list_adapters(request: Request, staff: OperatorStaff) -> list[dict[str, Any]]:
    factory = services_of(request).session_factory
    return [registry.version_record(row) for row in registry.all_versions(factory)]


@router.get("/{family}/{version}")
def show_adapter(family: str, version: str, request: Request, staff: OperatorStaff) -> dict[str, Any]:
    factory = services_of(request).session_factory
    row = registry.get(factory, f"{family}/{version}")
    history = [registry.event_record(e) for e in registry.events(factory, row.id)]
    return {**registry.version_record(row), "metrics": row.metrics, "history": history}


@router.post("/{family}/{version}/promote")
async def promote_adapter(
    family: str, version: str, body: PromoteBody, request: Request, staff: OperatorStaff
) -> dict[str, Any]:
    services = services_of(request)
    adapter_id = f"{family}/{version}"
    # The gate loads two adapters and scores the held-out split: keep it off the event loop.
    result, _ = await to_thread.run_sync(
        lambda: promote(
            services.session_factory,
            services.settings,
            adapter_id,
            actor=staff.username,
            reason=body.reason,
            force=body.force,
        )
    )
    return {"production": adapter_id, "forced": body.force and not result.passed, "gate": result.report}


@router.post("/rollback")
def rollback_adapter(body: RollbackBody, request: Request, staff: OperatorStaff) -> dict[str, Any]:
    factory = services_of(request).session_factory
    row = registry.rollback(factory, actor=staff.username, reason=body.reason)
    return {"production": row.id}


@router.post("/{family}/{version}/shadow")
def shadow_adapter(
    family: str, version: str, body: ShadowBody, request: Request, staff: OperatorStaff
) -> dict[str, Any]:
    factory = services_of(request).session_factory
    row = registry.set_shadow(factory, f"{family}/{version}", body.on, actor=staff.username)
    return {"id": row.id, "shadow": row.shadow}
