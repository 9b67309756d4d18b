"""What the staff console's API returns about conversations: list rows, the transcript header,
and transcript lines with everything known about each message.

Built in ``bot.db.review`` from the rows, returned by the routes of ``bot.api.conversations``
and ``bot.api.handoff`` as they are (FastAPI serialises them; the OpenAPI document shows them).
A transcript line is a ``ChatMessage`` (``bot.wire.messages``) plus what staff add to it, sent
flat in the JSON the console reads (``web/console/*.js``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer

from bot.db.models import CitationReview, Label, Prediction
from bot.wire.enums import ConversationStatus, LabelSource, Rating, Role
from bot.wire.messages import ChatMessage, IsoTime


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScoredIntent(_View):
    intent: str
    confidence: float


class PredictionView(_View):
    """What an adapter said about a customer message; ``margin``: over the runner-up."""

    intent: str
    confidence: float
    margin: float
    top_k: list[ScoredIntent]
    out_of_scope: bool
    adapter_version: str
    shadow: bool

    @classmethod
    def of(cls, prediction: Prediction) -> PredictionView:
        top = prediction.top_k or []
        runner_up = float(top[1]["confidence"]) if len(top) > 1 else 0.0
        margin = prediction.confidence - runner_up
        return cls(
            intent=prediction.intent,
            confidence=round(prediction.confidence, 4),
            margin=round(margin, 4),
            top_k=[ScoredIntent.model_validate(scored) for scored in top],
            out_of_scope=prediction.out_of_scope,
            adapter_version=prediction.adapter_version,
            shadow=prediction.shadow,
        )


class LabelView(_View):
    id: int
    intent: str
    source: LabelSource
    created_by: str | None
    created_at: IsoTime

    @classmethod
    def of(cls, label: Label) -> LabelView:
        return cls(
            id=label.id,
            intent=label.intent,
            source=LabelSource(label.source),
            created_by=label.created_by,
            created_at=label.created_at,
        )


class CsatView(_View):
    rating: int
    comment: str
    created_at: IsoTime


class ConversationSummary(_View):
    """A row of the console's conversation lists (review list, live desk)."""

    id: str
    status: ConversationStatus
    created_at: IsoTime
    updated_at: IsoTime
    messages: int
    preview: str
    lowest_confidence: float | None
    thumbs_down: int
    reviewed_at: IsoTime | None
    reviewed_by: str | None
    agent_username: str | None
    agent_name: str | None
    csat: int | None


class ConversationHeader(ConversationSummary):
    """The transcript's header: the summary with every CSAT rating, oldest first."""

    csat_history: list[CsatView]


class CitationView(_View):
    """Staff's newest word on a bot reply's citation: ``confirmed`` when it names the article
    the reply cited first, else ``corrected`` (the reply should have cited ``article_id``)."""

    article_id: str
    verdict: str
    created_by: str | None
    created_at: IsoTime

    @classmethod
    def of(cls, review: CitationReview, cited: str | None) -> CitationView:
        return cls(
            article_id=review.article_id,
            verdict="confirmed" if review.article_id == cited else "corrected",
            created_by=review.created_by,
            created_at=review.created_at,
        )


class TranscriptLine(_View):
    """A message with what staff see about it: the predictions and labels of a customer turn
    (shown prediction first, then shadows), the customer's rating of a bot reply."""

    message: ChatMessage
    predictions: list[PredictionView] = []
    labels: list[LabelView] = []
    rating: Rating | None = None
    citation: CitationView | None = None

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, Any]:
        view = self.message.console_view()
        if self.message.role == Role.USER:
            view["prediction"] = self.predictions[0].model_dump(mode="json") if self.predictions else None
            view["predictions"] = [p.model_dump(mode="json") for p in self.predictions]
            view["labels"] = [label.model_dump(mode="json") for label in self.labels]
            view["label"] = view["labels"][-1] if self.labels else None
        elif self.message.role == Role.BOT:
            view["rating"] = self.rating.value if self.rating is not None else None
            view["citation"] = self.citation.model_dump(mode="json") if self.citation is not None else None
        return view


class ReviewQueueItem(_View):
    """A customer turn worth a label, with why (``score`` orders the queue)."""

    message_id: int
    conversation_id: str
    seq: int
    text: str
    created_at: IsoTime
    intent: str
    confidence: float
    margin: float
    # The model judged the turn outside what the bot covers (it answered from articles or
    # offered a person): a label here is most often out_of_scope or a new intent.
    out_of_scope: bool
    thumbs_down: bool
    suggestion_click: bool
    score: float


class Transcript(_View):
    conversation: ConversationHeader
    messages: list[TranscriptLine]
