"""The channel-independent bot turn: customer text in, a reply and what the model said out."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from anyio import to_thread
from sentence_transformers import SentenceTransformer

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
from bot.chat.shared_pass import SharedPass, TurnInference, TurnQuery, shared_pass_for
from bot.intents.classifier import Classifier
from bot.intents.model import Prediction
from bot.retrieval.articles import article_url
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
    kb_base_url: str = ""


class ChatEngine:
    def __init__(
        self,
        slot: ClassifierSlot,
        index: KnowledgeIndex,
        responses: ResponseBook,
        settings: ThresholdSettings,
        batchers: InferenceBatchers | None = None,
        share_lower_layers: bool = True,
    ) -> None:
        """Without ``batchers`` every message gets a forward pass of its own.
        ``share_lower_layers`` runs the layers the two models have in common once per message
        where they have any (``bot/chat/shared_pass.py``)."""
        self.slot = slot
        self.index = index
        self.responses = responses
        self.settings = settings
        self.batchers = batchers
        self.share_lower_layers = share_lower_layers
        # The shared pass of the last classifier asked about: checking the weights takes a
        # moment, so it is done once per classifier (a hot swap brings a new one).
        self._shared: tuple[Classifier, KnowledgeIndex, SentenceTransformer, SharedPass | None] | None = None

    def thresholds(self, classifier: Classifier) -> Thresholds:
        out_of_scope = self.settings.out_of_scope
        if out_of_scope is None:
            out_of_scope = classifier.out_of_scope_threshold
        return Thresholds(
            confidence=self.settings.confidence,
            out_of_scope=out_of_scope,
            retrieval=self.settings.retrieval,
            suggestions=self.settings.suggestions,
            sources=self.settings.top_k,
        )

    def search_depth(self) -> int:
        """Every article: a confident answer cites among its intent's articles, which need not
        be among the top few (ranking all of them costs a sort of the chunk scores, no pass)."""
        return max(self.settings.top_k, len(self.index.articles))

    async def respond(self, text: str) -> Turn:
        classifier = self.slot.current
        thresholds = self.thresholds(classifier)
        started = time.perf_counter()
        shared = self.shared_pass(classifier)
        if shared is not None:
            # One pass: the lower layers once, the retriever's upper layers only if the reply
            # will use its hits (decided in the inference thread from the prediction).
            query = TurnQuery(
                text,
                self.search_depth(),
                lambda prediction: needs_knowledge(prediction, self.responses, thresholds),
            )
            inference = await self.infer(shared, query)
            latency_ms = (time.perf_counter() - started) * 1000
            prediction, hits = inference.prediction, inference.hits or []
        else:
            prediction = await self.classify(classifier, text)
            latency_ms = (time.perf_counter() - started) * 1000
            # Both models share the cores: a search whose hits the reply would ignore is skipped.
            wanted = needs_knowledge(prediction, self.responses, thresholds)
            hits = await self.search(text) if wanted else []
        reply = self.linked(decide(prediction, hits, self.responses, thresholds))
        return Turn(reply, prediction, classifier.version, latency_ms)

    def linked(self, reply: Reply) -> Reply:
        """``reply`` with each source's public address (BOT_KB_BASE_URL plus the article id)."""
        if not reply.sources or not self.settings.kb_base_url:
            return reply
        base = self.settings.kb_base_url
        return replace(reply, sources=[replace(s, url=article_url(base, s.id)) for s in reply.sources])

    def shared_pass(self, classifier: Classifier) -> SharedPass | None:
        """The pass sharing ``classifier``'s lower layers with the retriever's, if they can."""
        if not self.share_lower_layers:
            return None
        cached = self._shared
        # A promoted retriever adapter replaces the index's query encoder: the pass follows it.
        index, query_encoder = self.index, self.index.query_encoder
        if cached is None or cached[:3] != (classifier, index, query_encoder):
            cached = (classifier, index, query_encoder, shared_pass_for(classifier, index))
            self._shared = cached
        return cached[3]

    async def infer(self, shared: SharedPass, query: TurnQuery) -> TurnInference:
        if self.batchers is None:
            return (await to_thread.run_sync(shared.run, [query]))[0]
        return await self.batchers.infer(shared, query)

    async def respond_to_choice(self, intent: str, text: str) -> Turn:
        """The customer picked a suggested intent: answer it without asking the model again."""
        classifier = self.slot.current
        hits = await self.search(text)
        reply = self.linked(answer_intent(intent, 1.0, hits, self.responses, self.thresholds(classifier)))
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
            return await to_thread.run_sync(self.index.search, text, self.search_depth())
        return await self.batchers.search(self.index, text, self.search_depth())
