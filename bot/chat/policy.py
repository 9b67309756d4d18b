"""Pick the bot's reply from an intent prediction and knowledge-base hits.

Three bands of confidence: at or above ``confidence_threshold`` the intent is answered;
between the out-of-scope threshold and that, the bot asks back with the top intents as
buttons; below the out-of-scope threshold the message is treated as outside the known intents,
and the best knowledge-base article answers it when it is similar enough, else a person is
offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.chat.responses import ResponseBook
from bot.intents.model import Prediction
from bot.retrieval.index import Hit

HUMAN_INTENT = "human_agent"
SNIPPET_CHARS = 400


@dataclass(frozen=True)
class Thresholds:
    confidence: float
    out_of_scope: float
    retrieval: float
    suggestions: int = 3


@dataclass(frozen=True)
class Suggestion:
    title: str
    intent: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str


@dataclass(frozen=True)
class Reply:
    """``action`` is one of answer, clarify, knowledge, offer_human, handoff."""

    text: str
    action: str
    intent: str | None = None
    confidence: float | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def decide(prediction: Prediction, hits: list[Hit], responses: ResponseBook, thresholds: Thresholds) -> Reply:
    if prediction.confidence < thresholds.out_of_scope:
        return out_of_scope_reply(hits, responses, thresholds)
    if prediction.confidence < thresholds.confidence:
        return clarify(prediction, responses, thresholds)
    return answer_intent(prediction.intent, prediction.confidence, hits, responses, thresholds)


def needs_knowledge(prediction: Prediction, responses: ResponseBook, thresholds: Thresholds) -> bool:
    """Whether ``decide`` would look at knowledge-base hits for this prediction."""
    if prediction.confidence < thresholds.out_of_scope:
        return True
    if prediction.confidence < thresholds.confidence:
        return False
    response = responses.get(prediction.intent)
    if response is None or not response.replies:
        return True
    return response.related_articles and not response.handoff


def answer_intent(
    intent: str,
    confidence: float,
    hits: list[Hit],
    responses: ResponseBook,
    thresholds: Thresholds,
) -> Reply:
    response = responses.get(intent)
    text = responses.reply(intent)
    if response is None or text is None:
        # An intent the model knows but the reply book lacks: answer from knowledge if possible.
        return out_of_scope_reply(hits, responses, thresholds)
    if response.handoff:
        return Reply(text, "handoff", intent, confidence)
    related = [hit for hit in hits if hit.score >= thresholds.retrieval][:1]
    if response.related_articles and related:
        text += f"\n\nMore in our help centre: {related[0].title}"
    sources = [Source(hit.article_id, hit.title) for hit in related] if response.related_articles else []
    return Reply(text, "answer", intent, confidence, sources=sources)


def clarify(prediction: Prediction, responses: ResponseBook, thresholds: Thresholds) -> Reply:
    candidates = [intent for intent, _ in prediction.top_k[: thresholds.suggestions]]
    suggestions = [Suggestion(responses.title(intent), intent) for intent in candidates]
    return Reply(
        "I want to be sure I understand. Did you mean one of these?",
        "clarify",
        prediction.intent,
        prediction.confidence,
        suggestions=suggestions,
    )


def out_of_scope_reply(hits: list[Hit], responses: ResponseBook, thresholds: Thresholds) -> Reply:
    relevant = [hit for hit in hits if hit.score >= thresholds.retrieval]
    if relevant:
        best = relevant[0]
        body = best.text.removeprefix(f"{best.title}. ")
        snippet = body if len(body) <= SNIPPET_CHARS else body[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
        text = f"This article from our help centre may answer that: {best.title}.\n\n{snippet}"
        also = [hit.title for hit in relevant[1:]]
        if also:
            text += "\n\nSee also: " + "; ".join(also)
        return Reply(text, "knowledge", sources=[Source(h.article_id, h.title) for h in relevant])
    return Reply(
        "I'm sorry, I can't help with that one. Would you like me to connect you with a person?",
        "offer_human",
        suggestions=[Suggestion(responses.title(HUMAN_INTENT), HUMAN_INTENT)],
    )
