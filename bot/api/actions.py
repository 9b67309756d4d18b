"""Business actions for staff, under ``/api/content/actions``: read, edit, and try them.

Every staff role reads; operators and admins edit and press "Test", which calls the backend
with the slot values typed in (the definition's ``sample`` by default) and shows the reply a
customer would get. Secrets never appear here: definitions name them, settings hold them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path, Request, status
from pydantic import AfterValidator, BaseModel, Field

from bot.actions.http_call import Outcome
from bot.actions.slot_values import VALIDATORS
from bot.actions.templates import TemplateFailed, render
from bot.api.content import ExpectedVersion, HistoryView, history_view
from bot.api.deps import services_of
from bot.api.staff_deps import CurrentStaff, OperatorStaff
from bot.content import store
from bot.db.models import ActionRow
from bot.errors import InvalidInput

router = APIRouter(prefix="/api/content/actions")

ActionName = Annotated[str, Path(min_length=1, max_length=63)]
UtcTime = Annotated[dt.datetime, AfterValidator(lambda t: t if t.tzinfo else t.replace(tzinfo=dt.UTC))]


class ActionBody(BaseModel):
    definition: dict[str, Any] = Field(description="The definition, as in data/actions.yml.")
    version: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="The version edited (0: create only); omit to overwrite.",
    )


class ActionStatsView(BaseModel):
    """What this server process saw of the action since it started."""

    circuit: str
    calls: int
    failures: int
    not_found: int
    refused_by_circuit: int
    mean_latency_ms: float | None
    last_failure: str


class ActionView(BaseModel):
    name: str
    definition: dict[str, Any]
    used_by: list[str]
    version: int
    updated_by: str
    updated_at: UtcTime
    stats: ActionStatsView


class TestBody(BaseModel):
    slots: dict[str, str] = Field(
        default_factory=dict, description="Slot values to call with; missing ones come from the sample."
    )


class TestResult(BaseModel):
    outcome: str
    status: int | None
    latency_ms: float
    attempts: int
    reason: str
    reply: str = Field(description="What a customer would be told.")
    answer: dict[str, Any] | None = Field(description="The backend's JSON answer.")
    circuit: str


def _stats(request: Request, name: str) -> ActionStatsView:
    forms = services_of(request).forms
    caller = forms.caller if forms is not None else None
    stats = caller.stats.get(name) if caller is not None else None
    circuit = caller.circuit_state(name) if caller is not None else "closed"
    if stats is None:
        return ActionStatsView(
            circuit=circuit,
            calls=0,
            failures=0,
            not_found=0,
            refused_by_circuit=0,
            mean_latency_ms=None,
            last_failure="",
        )
    mean = round(stats.latency_ms_total / stats.calls, 1) if stats.calls else None
    return ActionStatsView(
        circuit=circuit,
        calls=stats.calls,
        failures=stats.failures,
        not_found=stats.not_found,
        refused_by_circuit=stats.refused_by_circuit,
        mean_latency_ms=mean,
        last_failure=stats.last_failure,
    )


def action_view(request: Request, row: ActionRow) -> ActionView:
    responses = services_of(request).chat.responses.responses
    return ActionView(
        name=row.name,
        definition=row.definition,
        used_by=sorted(intent for intent, response in responses.items() if response.action == row.name),
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        stats=_stats(request, row.name),
    )


@router.get("")
def list_actions(request: Request, staff: CurrentStaff) -> list[ActionView]:
    return [action_view(request, row) for row in store.all_actions(services_of(request).session_factory)]


@router.get("/validators")
def list_validators(staff: CurrentStaff) -> list[str]:
    """The names a slot's ``validator`` may take."""
    return sorted(VALIDATORS)


@router.get("/{name}")
def show_action(name: ActionName, request: Request, staff: CurrentStaff) -> ActionView:
    return action_view(request, store.get_action(services_of(request).session_factory, name))


@router.put("/{name}")
async def put_action(
    name: ActionName, body: ActionBody, request: Request, operator: OperatorStaff
) -> ActionView:
    services = services_of(request)
    row = await to_thread.run_sync(
        store.save_action, services.session_factory, name, body.definition, operator.username, body.version
    )
    await services.content.refresh()
    return action_view(request, row)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_action(
    name: ActionName, request: Request, operator: OperatorStaff, version: ExpectedVersion = None
) -> None:
    services = services_of(request)
    await to_thread.run_sync(store.delete_action, services.session_factory, name, operator.username, version)
    await services.content.refresh()


@router.get("/{name}/history")
def action_history(name: ActionName, request: Request, staff: CurrentStaff) -> HistoryView:
    changes = store.history(services_of(request).session_factory, store.ACTION, name)
    return history_view(store.ACTION, name, changes)


@router.post("/{name}/test")
async def test_action(
    name: ActionName, body: TestBody, request: Request, operator: OperatorStaff
) -> TestResult:
    """Call the backend as a customer's completed form would (counts in the stats and breaker)."""
    services = services_of(request)
    row = await to_thread.run_sync(store.get_action, services.session_factory, name)
    action = store.action_of(row)
    slots = {**action.sample, **body.slots}
    missing = [slot.name for slot in action.slots if not slots.get(slot.name)]
    if missing:
        raise InvalidInput("missing_slots", f"give a value for {', '.join(missing)}")
    forms = services.forms
    if forms is None:
        raise InvalidInput("actions_off", "business actions are not set up in this server")
    result = await forms.caller.call(name, action, slots)
    reply = action.fallback
    if result.outcome is Outcome.NOT_FOUND:
        reply = action.not_found
    elif result.outcome is Outcome.OK and result.data is not None:
        try:
            reply = render(action.reply, {"data": result.data, "slots": slots})
        except TemplateFailed as failed:
            reply = f"(the reply template failed: {failed}) {action.fallback}"
    return TestResult(
        outcome=str(result.outcome),
        status=result.status,
        latency_ms=round(result.latency_ms, 1),
        attempts=result.attempts,
        reason=result.reason,
        reply=reply,
        answer=result.data,
        circuit=forms.caller.circuit_state(name),
    )
