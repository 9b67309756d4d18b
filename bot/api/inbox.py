"""The live desk's own routes under ``/api``: assignment, private notes, canned replies, the
customer's context and earlier conversations, and labelling several turns at once.

Reading needs any staff role; writing canned replies needs an operator (agents use them).
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field

from bot.api.conversations import known_intents
from bot.api.deps import services_of
from bot.api.errors import MAX_ID
from bot.api.handoff import desk
from bot.api.staff_deps import CurrentStaff, OperatorStaff
from bot.db import review
from bot.staff import accounts, canned, inbox, labels, notes
from bot.wire.console import ConversationSummary

router = APIRouter(prefix="/api")

CannedId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_LABELS_AT_ONCE = 100


class AssignBody(BaseModel):
    username: str | None = Field(
        default=None, max_length=100, description="Who the conversation is for; null: nobody."
    )


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=notes.MAX_NOTE_CHARS)


class CannedBody(BaseModel):
    shortcut: str = Field(min_length=1, max_length=51, description="Typed after / in the composer.")
    text: str = Field(min_length=1, max_length=canned.MAX_TEXT_CHARS)


class BulkLabelBody(BaseModel):
    message_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_LABELS_AT_ONCE, description="Customer turns to label."
    )
    intent: str = Field(min_length=1, max_length=100)


@router.post("/conversations/{conversation_id}/assign")
async def assign(
    conversation_id: str, body: AssignBody, request: Request, staff: CurrentStaff
) -> ConversationSummary:
    await desk(request).assign(conversation_id, staff, body.username)
    factory = services_of(request).session_factory
    return await to_thread.run_sync(review.conversation_header, factory, conversation_id)


@router.get("/assignees")
def assignees(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    """Who a conversation can be assigned to: every active staff member (name only)."""
    users = accounts.list_users(services_of(request).session_factory)
    return {
        "assignees": [
            {"username": user.username, "display_name": user.display_name} for user in users if user.active
        ]
    }


@router.get("/conversations/{conversation_id}/notes")
def list_notes(conversation_id: str, request: Request, staff: CurrentStaff) -> dict[str, Any]:
    found = notes.notes_of(services_of(request).session_factory, conversation_id)
    return {"notes": [notes.note_view(note) for note in found]}


@router.post("/conversations/{conversation_id}/notes", status_code=status.HTTP_201_CREATED)
def add_note(conversation_id: str, body: NoteBody, request: Request, staff: CurrentStaff) -> dict[str, Any]:
    note = notes.add_note(
        services_of(request).session_factory, conversation_id, staff.display_name, body.text
    )
    return notes.note_view(note)


@router.get("/conversations/{conversation_id}/customer")
def customer(conversation_id: str, request: Request, staff: CurrentStaff) -> dict[str, Any]:
    """Where the customer chats from and their earlier conversations from the same browser."""
    return inbox.customer_view(services_of(request).session_factory, conversation_id)


@router.get("/canned-replies")
def list_canned(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    found = canned.list_replies(services_of(request).session_factory)
    return {"replies": [canned.reply_view(reply) for reply in found]}


@router.post("/canned-replies", status_code=status.HTTP_201_CREATED)
def create_canned(body: CannedBody, request: Request, operator: OperatorStaff) -> dict[str, Any]:
    factory = services_of(request).session_factory
    return canned.reply_view(canned.save_reply(factory, body.shortcut, body.text, operator.username))


@router.put("/canned-replies/{reply_id}")
def update_canned(
    reply_id: CannedId, body: CannedBody, request: Request, operator: OperatorStaff
) -> dict[str, Any]:
    factory = services_of(request).session_factory
    return canned.reply_view(
        canned.save_reply(factory, body.shortcut, body.text, operator.username, reply_id)
    )


@router.delete("/canned-replies/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_canned(reply_id: CannedId, request: Request, operator: OperatorStaff) -> None:
    canned.delete_reply(services_of(request).session_factory, reply_id)


@router.post("/labels", status_code=status.HTTP_201_CREATED)
def label_several(body: BulkLabelBody, request: Request, staff: CurrentStaff) -> dict[str, Any]:
    """One intent for several customer turns (from the review queue); each gets its own label row."""
    ids = list(dict.fromkeys(body.message_ids))
    factory = services_of(request).session_factory
    labelled = labels.add_staff_labels(factory, ids, body.intent, known_intents(request), staff.username)
    return {"labelled": labelled, "intent": body.intent.strip()}
