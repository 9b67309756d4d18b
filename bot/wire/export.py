"""The export's records (``bot export``, one JSON object per conversation and line): the
conversation with its review state and CSAT ratings, and every message with all its fields
(whatever the role) and its predictions, feedback and labels."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer

from bot.db.models import Feedback, Label, Prediction
from bot.wire.console import CsatView, ScoredIntent
from bot.wire.enums import ConversationStatus, LabelSource, Rating
from bot.wire.messages import ChatMessage, IsoTime


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class PredictionRecord(_Record):
    intent: str
    confidence: float
    top_k: list[ScoredIntent]
    out_of_scope: bool
    adapter_version: str
    latency_ms: float
    shadow: bool

    @classmethod
    def of(cls, prediction: Prediction) -> PredictionRecord:
        return cls(
            intent=prediction.intent,
            confidence=prediction.confidence,
            top_k=[ScoredIntent.model_validate(scored) for scored in prediction.top_k or []],
            out_of_scope=prediction.out_of_scope,
            adapter_version=prediction.adapter_version,
            latency_ms=prediction.latency_ms,
            shadow=prediction.shadow,
        )


class FeedbackRecord(_Record):
    rating: Rating
    created_at: IsoTime

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackRecord:
        return cls(rating=Rating(feedback.rating), created_at=feedback.created_at)


class LabelRecord(_Record):
    intent: str
    source: LabelSource
    created_by: str | None
    created_at: IsoTime

    @classmethod
    def of(cls, label: Label) -> LabelRecord:
        return cls(
            intent=label.intent,
            source=LabelSource(label.source),
            created_by=label.created_by,
            created_at=label.created_at,
        )


class MessageRecord(_Record):
    message: ChatMessage
    predictions: list[PredictionRecord]
    feedback: list[FeedbackRecord]
    labels: list[LabelRecord]

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, Any]:
        return {
            **self.message.export_view(),
            "predictions": [p.model_dump(mode="json") for p in self.predictions],
            "feedback": [f.model_dump(mode="json") for f in self.feedback],
            "labels": [label.model_dump(mode="json") for label in self.labels],
        }


class ConversationRecord(_Record):
    id: str
    status: ConversationStatus
    created_at: IsoTime
    reviewed_by: str | None
    reviewed_at: IsoTime | None
    # The newest rating counts (the customer may rate again); the history stays.
    csat: int | None
    csat_history: list[CsatView]
    messages: list[MessageRecord]
