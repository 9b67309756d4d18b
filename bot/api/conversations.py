"""Conversation review and labelling for staff, under ``/api``.

Read routes need any staff role; deciding on proposed intents needs an operator.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from bot.api.content import ResponseBody
from bot.api.deps import services_of
from bot.api.errors import MessageId, PageNumber, SeqAfter
from bot.api.staff_deps import CurrentStaff, OperatorStaff
from bot.content import store as content_store
from bot.db import csat, review, review_queue
from bot.errors import NotFound
from bot.retrieval import citation_reviews
from bot.staff import labels
from bot.wire.console import CitationView, ConversationSummary, LabelView, ReviewQueueItem
from bot.wire.enums import ConversationStatus

router = APIRouter(prefix="/api")

MAX_PAGE_SIZE = 100


class LabelBody(BaseModel):
    intent: str = Field(min_length=1, max_length=100)
    propose: bool = Field(default=False, description="The intent is a new name to file as a proposal.")


class ReviewedBody(BaseModel):
    reviewed: bool = True


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    total: int
    page: int
    page_size: int


class ReviewQueuePage(BaseModel):
    items: list[ReviewQueueItem]
    total: int
    page: int
    page_size: int


@router.get("/conversations")
def list_conversations(
    request: Request,
    staff: CurrentStaff,
    q: Annotated[str | None, Query(max_length=200, description="Text any message contains")] = None,
    date_from: Annotated[dt.date | None, Query(alias="from", description="First UTC day")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to", description="Last UTC day")] = None,
    intent: Annotated[str | None, Query(max_length=100)] = None,
    confidence_below: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    fallback: bool | None = None,
    handoff: bool | None = None,
    thumbs_down: bool | None = None,
    reviewed: bool | None = None,
    state: ConversationStatus | None = None,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> ConversationPage:
    filters = review.ConversationFilters(
        text=(q or "").strip() or None,
        date_from=date_from,
        date_to=date_to,
        intent=intent or None,
        confidence_below=confidence_below,
        fallback=fallback,
        handoff=handoff,
        thumbs_down=thumbs_down,
        reviewed=reviewed,
        status=state,
    )
    factory = services_of(request).session_factory
    found = review.list_conversations(factory, filters, page, page_size)
    return ConversationPage(items=found.items, total=found.total, page=found.page, page_size=found.page_size)


@router.get("/conversations/{conversation_id}")
def conversation(
    conversation_id: str,
    request: Request,
    staff: CurrentStaff,
    after_seq: SeqAfter = 0,
) -> dict[str, Any]:
    found = review.transcript(services_of(request).session_factory, conversation_id, after_seq)
    if found is None:
        raise NotFound("unknown_conversation", "conversation not found")
    # Transcript lines are flat JSON whose fields depend on the role: dumped here, not by a
    # response model (which would read the JSON back into the model and fail).
    return found.model_dump(mode="json")


@router.post("/conversations/{conversation_id}/reviewed")
def mark_reviewed(
    conversation_id: str, body: ReviewedBody, request: Request, staff: CurrentStaff
) -> ConversationSummary:
    factory = services_of(request).session_factory
    if not review.set_reviewed(factory, conversation_id, body.reviewed, staff.username):
        raise NotFound("unknown_conversation", "conversation not found")
    return review.conversation_header(factory, conversation_id)


@router.get("/messages/{message_id}/labels")
def label_history(message_id: MessageId, request: Request, staff: CurrentStaff) -> dict[str, Any]:
    history = labels.labels_of(services_of(request).session_factory, message_id)
    views = [LabelView.of(label).model_dump(mode="json") for label in history]
    return {"message_id": message_id, "label": views[-1] if views else None, "labels": views}


@router.post("/messages/{message_id}/labels", status_code=status.HTTP_201_CREATED)
def add_label(
    message_id: MessageId, body: LabelBody, request: Request, staff: CurrentStaff
) -> dict[str, Any]:
    services = services_of(request)
    labels.add_staff_label(
        services.session_factory,
        message_id,
        body.intent,
        known_intents(request),
        staff.username,
        propose=body.propose,
    )
    return label_history(message_id, request, staff)


class CitationBody(BaseModel):
    article_id: str = Field(min_length=1, max_length=200, description="The article the reply should cite.")


@router.post("/messages/{message_id}/citation", status_code=status.HTTP_201_CREATED)
def review_citation(
    message_id: MessageId, body: CitationBody, request: Request, staff: CurrentStaff
) -> CitationView:
    """Confirm the article a bot reply cited, or name the right one (a retriever training pair)."""
    services = services_of(request)
    return citation_reviews.review_citation(
        services.session_factory, message_id, body.article_id, services.chat.index.articles, staff.username
    )


@router.get("/intents")
def intents(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    """The label set: the served model's intents, out_of_scope, and proposals still usable."""
    proposals = labels.list_proposals(services_of(request).session_factory)
    return {
        "intents": sorted(known_intents(request)),
        "out_of_scope": labels.OUT_OF_SCOPE,
        "proposals": [labels.proposal_view(p) for p in proposals if p.status != "rejected"],
    }


def known_intents(request: Request) -> list[str]:
    return list(services_of(request).slot.current.labels)


@router.get("/review-queue")
def queue(
    request: Request,
    staff: CurrentStaff,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> ReviewQueuePage:
    found = review_queue.review_queue(services_of(request).session_factory, page, page_size)
    return ReviewQueuePage(items=found.items, total=found.total, page=found.page, page_size=found.page_size)


@router.get("/intent-proposals")
def proposals(
    request: Request,
    staff: CurrentStaff,
    state: Literal["pending", "approved", "rejected"] | None = None,
) -> dict[str, Any]:
    found = labels.list_proposals(services_of(request).session_factory, state)
    return {"proposals": [labels.proposal_view(p) for p in found]}


class ApproveBody(BaseModel):
    response: ResponseBody | None = Field(
        default=None,
        description="The new intent's reply; without one it answers with the fallback until one is written.",
    )


@router.post("/intent-proposals/{name}/approve")
async def approve(
    name: str, request: Request, operator: OperatorStaff, body: ApproveBody | None = None
) -> dict[str, Any]:
    """Approve, and with ``response`` give the new intent its reply (checked before approving)."""
    services = services_of(request)
    response = body.response.response() if body is not None and body.response is not None else None
    if response is not None:
        await to_thread.run_sync(content_store.check_response, services.session_factory, name, response)
    decided = await to_thread.run_sync(_decide, request, name, True, operator.username)
    if response is not None:
        await to_thread.run_sync(
            content_store.save_response, services.session_factory, name, response, operator.username
        )
        await services.content.refresh()
    return {**decided, "has_response": name in services.chat.responses.responses}


@router.post("/intent-proposals/{name}/reject")
def reject(name: str, request: Request, operator: OperatorStaff) -> dict[str, Any]:
    return _decide(request, name, False, operator.username)


def _decide(request: Request, name: str, approve: bool, username: str) -> dict[str, Any]:
    proposal = labels.decide_proposal(services_of(request).session_factory, name, approve, username)
    return labels.proposal_view(proposal)


@router.get("/csat")
def satisfaction(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    with services_of(request).session_factory() as session:
        return {
            "overall": csat.overall(session).__dict__,
            "per_intent": [row.__dict__ for row in csat.per_intent(session)],
            "per_week": [row.__dict__ for row in csat.per_week(session)],
        }
