"""Learning rounds for operators, under ``/api/rounds``: start one, follow it, cancel it, and
promote, shadow or discard the candidate it trained.

A round runs in its own lower-priority process (``bot/learning/round_process.py``), never in
this server's event loop or inference threads; its state lives in the state directory, so any
server process, or the same one after a restart, reports it.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import OperatorStaff
from bot.errors import Conflict
from bot.intents import registry
from bot.learning import round_jobs, round_process
from bot.learning.retrain import promote
from bot.services import Services

router = APIRouter(prefix="/api/rounds")


class StartBody(BaseModel):
    epochs: int | None = Field(
        default=None, ge=1, le=50, description="Passes over the training data (default: the recipe's)."
    )
    warm_start: bool | None = Field(
        default=None,
        description="Continue from production (true) or from the base model (false); "
        "default: BOT_RETRAIN_WARM_START.",
    )


class PromoteBody(BaseModel):
    reason: str = Field(default="", max_length=2000, description="Why; recorded with the promotion.")
    force: bool = Field(default=False, description="Promote even if the gate refuses; needs a reason.")


class ShadowBody(BaseModel):
    on: bool = Field(default=True, description="True puts the candidate in shadow mode, false takes it out.")


class DiscardBody(BaseModel):
    reason: str = Field(default="", max_length=2000, description="Why; recorded with the decision.")


@router.get("")
def list_rounds(request: Request, staff: OperatorStaff) -> dict[str, Any]:
    services = services_of(request)
    rounds = [_with_candidate(services, r) for r in round_jobs.recent(services.settings)]
    running = next((r["id"] for r in rounds if r["state"] not in round_jobs.FINISHED), None)
    production = registry.production(services.session_factory)
    return {"rounds": rounds, "running": running, "production": production.id if production else None}


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_round(body: StartBody, request: Request, staff: OperatorStaff) -> dict[str, Any]:
    settings = services_of(request).settings
    options = round_jobs.RoundOptions(epochs=body.epochs, warm_start=body.warm_start)
    return await to_thread.run_sync(round_process.start, settings, staff.username, options)


@router.get("/{round_id}")
def show_round(round_id: str, request: Request, staff: OperatorStaff) -> dict[str, Any]:
    services = services_of(request)
    return _with_candidate(services, round_jobs.read(services.settings, round_id))


@router.post("/{round_id}/cancel")
def cancel_round(round_id: str, request: Request, staff: OperatorStaff) -> dict[str, Any]:
    return round_jobs.request_cancel(services_of(request).settings, round_id, staff.username)


@router.post("/{round_id}/promote")
async def promote_candidate(
    round_id: str, body: PromoteBody, request: Request, staff: OperatorStaff
) -> dict[str, Any]:
    services = services_of(request)
    candidate = _candidate_of(services, round_id)
    # The gate runs again on today's data (labels may have come in since the round) and loads
    # two adapters: off the event loop.
    result, _ = await to_thread.run_sync(
        lambda: promote(
            services.session_factory,
            services.settings,
            candidate,
            actor=staff.username,
            reason=body.reason,
            force=body.force,
        )
    )
    forced = body.force and not result.passed
    action = "promoted (forced)" if forced else "promoted"
    round_jobs.record_decision(services.settings, round_id, action, staff.username, body.reason)
    return {"production": candidate, "forced": forced, "gate": result.report}


@router.post("/{round_id}/shadow")
def shadow_candidate(
    round_id: str, body: ShadowBody, request: Request, staff: OperatorStaff
) -> dict[str, Any]:
    services = services_of(request)
    candidate = _candidate_of(services, round_id)
    row = registry.set_shadow(services.session_factory, candidate, body.on, actor=staff.username)
    action = "shadowed" if body.on else "shadow stopped"
    round_jobs.record_decision(services.settings, round_id, action, staff.username, "")
    return {"id": row.id, "shadow": row.shadow}


@router.post("/{round_id}/discard")
def discard_candidate(
    round_id: str, body: DiscardBody, request: Request, staff: OperatorStaff
) -> dict[str, Any]:
    services = services_of(request)
    candidate = _candidate_of(services, round_id)
    row = registry.discard(services.session_factory, candidate, actor=staff.username, reason=body.reason)
    round_jobs.record_decision(services.settings, round_id, "discarded", staff.username, body.reason)
    return {"id": row.id, "state": row.state}


def _candidate_of(services: Services, round_id: str) -> str:
    """The round's candidate, while it is still one: a promoted or discarded candidate is done."""
    record = round_jobs.read(services.settings, round_id)
    if record["state"] != round_jobs.SUCCEEDED or not record["candidate"]:
        raise Conflict("round_has_no_candidate", f"round {round_id} has no candidate ({record['state']})")
    row = registry.get(services.session_factory, record["candidate"])
    if row.state != registry.CANDIDATE:
        raise Conflict("candidate_decided", f"{row.id} is already {row.state}; start a new round")
    return row.id


def _with_candidate(services: Services, record: dict[str, Any]) -> dict[str, Any]:
    """The record plus where its candidate stands in the registry now."""
    candidate = record.get("candidate")
    if candidate:
        try:
            row = registry.get(services.session_factory, candidate)
        except registry.RegistryError:
            record["candidate_state"] = None
        else:
            record["candidate_state"] = row.state
            record["candidate_shadow"] = row.shadow
    return record
