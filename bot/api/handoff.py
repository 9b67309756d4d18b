"""Live hand-off for staff: the waiting queue, take over, write, hand back, close.

Any staff member may take a conversation nobody holds. Only the one who holds it may write in
it, hand it back or close it, unless an operator passes ``override`` (e.g. the agent left).
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import CurrentStaff
from bot.db import review
from bot.errors import Forbidden, InvalidInput
from bot.staff import handoff, inbox
from bot.staff.accounts import StaffIdentity
from bot.staff.live_desk import LiveDesk
from bot.staff.roles import role_includes
from bot.wire.console import ConversationSummary

router = APIRouter(prefix="/api")


class Override(BaseModel):
    override: bool = Field(default=False, description="Operators only: act on a chat someone else holds.")


class AgentMessage(BaseModel):
    text: str = Field(min_length=1)


def desk(request: Request) -> LiveDesk:
    services = services_of(request)
    return LiveDesk(services.session_factory, services.hub)


@router.get("/live")
def live(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    factory = services_of(request).session_factory
    with factory() as session:
        conversations = handoff.live_conversations(factory)
        extra = inbox.desk_fields(session, conversations)
        items = review.summaries(session, conversations)
        return {"conversations": [{**item.model_dump(mode="json"), **extra[item.id]} for item in items]}


@router.post("/conversations/{conversation_id}/take-over")
async def take_over(conversation_id: str, request: Request, staff: CurrentStaff) -> ConversationSummary:
    await desk(request).take_over(conversation_id, staff)
    return await _header(request, conversation_id)


@router.post("/conversations/{conversation_id}/hand-back")
async def hand_back(
    conversation_id: str, body: Override, request: Request, staff: CurrentStaff
) -> ConversationSummary:
    await desk(request).hand_back(conversation_id, staff, _override(body, staff))
    return await _header(request, conversation_id)


@router.post("/conversations/{conversation_id}/close")
async def close(
    conversation_id: str, body: Override, request: Request, staff: CurrentStaff
) -> ConversationSummary:
    await desk(request).close(conversation_id, staff, _override(body, staff))
    return await _header(request, conversation_id)


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def send(
    conversation_id: str, body: AgentMessage, request: Request, staff: CurrentStaff
) -> dict[str, Any]:
    text = body.text.strip()
    limit = services_of(request).settings.max_message_chars
    if not text:
        raise InvalidInput("empty_text", "the message text is empty")
    if len(text) > limit:
        raise InvalidInput("text_too_long", f"the message has {len(text)} characters; the limit is {limit}")
    message = await desk(request).send(conversation_id, staff, text)
    # The transcript line as JSON: its shape depends on the role, so it is no response model.
    return review.message_view(message).model_dump(mode="json")


def _override(body: Override, staff: StaffIdentity) -> bool:
    if body.override and not role_includes(staff.role, "operator"):
        raise Forbidden("forbidden", "overriding needs the operator role")
    return body.override


async def _header(request: Request, conversation_id: str) -> ConversationSummary:
    factory = services_of(request).session_factory
    return await to_thread.run_sync(review.conversation_header, factory, conversation_id)
