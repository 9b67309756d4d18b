"""Intent discovery for staff, under ``/api/insights``: read clusters (any role), and turn one
into a proposed intent, or label it as an existing one, with the turns staff ticked (operator)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from bot.api.conversations import known_intents
from bot.api.deps import services_of
from bot.api.staff_deps import CurrentStaff, OperatorStaff
from bot.errors import Conflict
from bot.insights import clusters
from bot.insights.clusters import ClassifierEmbedder, ClusterReport
from bot.intents.classifier import IntentClassifier
from bot.staff import labels

router = APIRouter(prefix="/api/insights")

MAX_TICKED = 500


class ClusterLabelBody(BaseModel):
    intent: str = Field(min_length=1, max_length=100, description="The (edited) name, or an existing intent")
    propose: bool = Field(description="File the name as a new proposed intent; false labels an existing one")
    message_ids: list[int] = Field(
        min_length=1, max_length=MAX_TICKED, description="The ticked customer turns"
    )


@router.get("/clusters", response_model=ClusterReport)
async def list_clusters(
    request: Request,
    staff: CurrentStaff,
    since: Annotated[dt.date | None, Query(description="Only turns from this UTC day on")] = None,
    limit: Annotated[int, Query(ge=2, le=clusters.MAX_TURNS, description="Newest turns to cluster")] = 1000,
) -> ClusterReport:
    services = services_of(request)
    classifier = services.slot.current
    if not isinstance(classifier, IntentClassifier):
        raise Conflict("no_encoder", "the served model has no encoder to embed turns with")
    embedder = ClassifierEmbedder(classifier)
    return await to_thread.run_sync(
        lambda: clusters.discover(services.session_factory, embedder, since, limit)
    )


@router.post("/clusters/labels", status_code=status.HTTP_201_CREATED)
def label_cluster(body: ClusterLabelBody, request: Request, operator: OperatorStaff) -> dict[str, Any]:
    """All ticked turns get the label in one transaction; with ``propose`` the name is filed as a
    pending proposal first, which an operator approves for the next training round."""
    ids = list(dict.fromkeys(body.message_ids))
    factory = services_of(request).session_factory
    intent = body.intent.strip()
    labelled = labels.add_staff_labels(
        factory, ids, intent, known_intents(request), operator.username, propose=body.propose
    )
    proposals = {p.name: p for p in labels.list_proposals(factory)}
    proposal = proposals.get(intent)
    return {
        "intent": intent,
        "labelled": labelled,
        "proposal": labels.proposal_view(proposal) if proposal is not None else None,
    }
