"""The channel-independent bot turn: customer text in, a reply and what the model said out."""

from __future__ import annotations

import time
from dataclasses import dataclass

from anyio import to_thread

from bot.chat.batching import InferenceBatchers
from bot.chat.policy import (
    Reply,
    Thresholds,
    answer_intent,
    decide,
    needs_knowledge,
    out_of_scope_reply,
)
from bot.chat.responses import ResponseBook
from bot.intents.classifier import Classifier
from bot.intents.model import Prediction
from bot.retrieval.index import Hit, KnowledgeIndex


@dataclass(frozen=True)
class Turn:
    reply: Reply
    prediction: Prediction | None
    adapter_version: str
    latency_ms: float


class ClassifierSlot:
    """The classifier currently serving. Replacing it never disturbs a turn in progress,
    because each turn reads the slot once and keeps that classifier to the end."""

    def __init__(self, classifier: Classifier) -> None:
        self.current = classifier


class ShadowSlot:
    """A candidate that classifies live customer turns beside production, never answering."""

    def __init__(self) -> None:
        self.current: Classifier | None = None


@dataclass
class ThresholdSettings:
    confidence: float
    out_of_scope: float | None
    retrieval: float
    suggestions: int
    top_k: int


class ChatEngine:
    def __init__(
        self,
        slot: ClassifierSlot,
        index: KnowledgeIndex,
        responses: ResponseBook,
        settings: ThresholdSettings,
        batchers: InferenceBatchers | None = None,
    ) -> None:
        """Without ``batchers`` every message gets a forward pass of its own."""
        self.slot = slot
        self.index = index
        self.responses = responses
        self.settings = settings
        self.batchers = batchers

    def thresholds(self, classifier: Classifier) -> Thresholds:
        out_of_scope = self.settings.out_of_scope
        if out_of_scope is None:
            out_of_scope = classifier.out_of_scope_threshold
        return Thresholds(
            confidence=self.settings.confidence,
            out_of_scope=out_of_scope,
            retrieval=self.settings.retrieval,
            suggestions=self.settings.suggestions,
        )

    async def respond(self, text: str) -> Turn:
        classifier = self.slot.current
        started = time.perf_counter()
        prediction = await self.classify(classifier, text)
        latency_ms = (time.perf_counter() - started) * 1000
        thresholds = self.thresholds(classifier)
        # Both models share the cores: a search whose hits the reply would ignore is skipped.
        hits = await self.search(text) if needs_knowledge(prediction, self.responses, thresholds) else []
        reply = decide(prediction, hits, self.responses, thresholds)
        return Turn(reply, prediction, classifier.version, latency_ms)

    async def respond_to_choice(self, intent: str, text: str) -> Turn:
        """The customer picked a suggested intent: answer it without asking the model again."""
        classifier = self.slot.current
        hits = await self.search(text)
        reply = answer_intent(intent, 1.0, hits, self.responses, self.thresholds(classifier))
        return Turn(reply, None, classifier.version, 0.0)

    def fallback(self) -> Turn:
        """The turn for a message the model failed on: the offer of a person, never silence."""
        classifier = self.slot.current
        reply = out_of_scope_reply([], self.responses, self.thresholds(classifier))
        return Turn(reply, None, classifier.version, 0.0)

    async def classify(self, classifier: Classifier, text: str) -> Prediction:
        if self.batchers is None:
            return (await to_thread.run_sync(classifier.classify, [text]))[0]
        return await self.batchers.classify(classifier, text)

    async def search(self, text: str) -> list[Hit]:
        if self.batchers is None:
            return await to_thread.run_sync(self.index.search, text, self.settings.top_k)
        return await self.batchers.search(self.index, text, self.settings.top_k)
