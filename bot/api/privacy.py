"""Data protection for admins, under ``/api``: find a customer's conversations, erase them, the log.

``POST /api/privacy/search`` with an e-mail address or a phone number lists what an erasure
would take (a body, not a query string: access logs and proxies record URLs);
``DELETE /api/conversations/{id}`` erases one conversation, ``POST /api/privacy/erasures``
several at once; ``GET /api/privacy/erasures`` is the audit log (who, how many, when).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import AdminStaff
from bot.errors import InvalidInput, NotFound
from bot.intents import registry
from bot.privacy import lookup
from bot.privacy.erasure import ErasureResult, erase_conversations, erasure_log, erasure_record

router = APIRouter(prefix="/api")

MAX_ERASE_AT_ONCE = 1000


class ConversationMatch(BaseModel):
    id: str
    status: str
    created_at: str
    last_message_at: str | None
    messages: int


class Matches(BaseModel):
    conversations: list[ConversationMatch]


class SearchBody(BaseModel):
    email: str | None = Field(
        default=None, max_length=320, description="An e-mail address the customer typed."
    )
    phone: str | None = Field(default=None, max_length=40, description="A phone number, any notation.")
    customer_id: str | None = Field(
        default=None,
        max_length=64,
        description="The widget's anonymous customer id (the console's side panel shows it).",
    )


class ErasureBody(BaseModel):
    conversation_ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(
        min_length=1, max_length=MAX_ERASE_AT_ONCE, description="The conversations to erase."
    )


class Erased(BaseModel):
    conversations: int
    messages: int
    adapters_marked: list[str] = Field(description="Adapter versions trained on the erased turns.")
    round_folders_removed: int


class ErasureLogEntry(BaseModel):
    actor: str
    reason: str
    conversations: int
    messages: int
    adapters_marked: int
    at: str


class PrivacyStatus(BaseModel):
    store_redacted: bool
    retention_days: int | None
    retain_labelled_redacted: bool
    production_adapter: str | None
    production_erased_turns: int = Field(description="Erased turns the serving adapter was trained on.")
    marked_versions: list[str]


@router.post("/privacy/search")
def find_conversations(body: SearchBody, request: Request, staff: AdminStaff) -> Matches:
    given = [value for value in (body.email, body.phone, body.customer_id) if value is not None]
    if len(given) != 1:
        raise InvalidInput("email_or_phone", "give exactly one of email, phone and customer_id")
    factory = services_of(request).session_factory
    if body.email is not None:
        found = lookup.find_by_email(factory, body.email)
    elif body.phone is not None:
        found = lookup.find_by_phone(factory, body.phone)
    else:
        found = lookup.find_by_customer_id(factory, body.customer_id or "")
    return Matches(conversations=[ConversationMatch(**lookup.match_record(match)) for match in found])


@router.delete("/conversations/{conversation_id}")
def erase_conversation(conversation_id: str, request: Request, staff: AdminStaff) -> Erased:
    if not lookup.find_by_ids(services_of(request).session_factory, [conversation_id]):
        raise NotFound("unknown_conversation", "conversation not found")
    return _erase(request, [conversation_id], staff.username)


@router.post("/privacy/erasures")
def erase_several(body: ErasureBody, request: Request, staff: AdminStaff) -> Erased:
    return _erase(request, body.conversation_ids, staff.username)


@router.get("/privacy/erasures")
def erasures(
    request: Request, staff: AdminStaff, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[ErasureLogEntry]:
    rows = erasure_log(services_of(request).session_factory, limit)
    return [ErasureLogEntry(**erasure_record(row)) for row in rows]


@router.get("/privacy/status")
def privacy_status(request: Request, staff: AdminStaff) -> PrivacyStatus:
    services = services_of(request)
    settings = services.settings
    versions = registry.all_versions(services.session_factory)
    production = next((row for row in versions if row.state == registry.PRODUCTION), None)
    return PrivacyStatus(
        store_redacted=settings.store_redacted,
        retention_days=settings.retention_days,
        retain_labelled_redacted=settings.retain_labelled_redacted,
        production_adapter=production.id if production else None,
        production_erased_turns=production.erased_turns if production else 0,
        marked_versions=[row.id for row in versions if row.erased_turns],
    )


def _erase(request: Request, conversation_ids: list[str], username: str) -> Erased:
    services = services_of(request)
    result: ErasureResult = erase_conversations(
        services.session_factory,
        conversation_ids,
        actor=f"staff:{username}",
        state_dir=services.settings.state_dir,
    )
    return Erased(**result.__dict__)
