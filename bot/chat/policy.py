"""Pick the bot's reply from an intent prediction and knowledge-base hits.

Three bands of confidence: at or above ``confidence_threshold`` the intent is answered;
between the out-of-scope threshold and that, the bot asks back with the top intents as
buttons; below the out-of-scope threshold the message is treated as outside the known intents,
and the best knowledge-base article answers it when it is similar enough, else a person is
offered.

Citations follow the intent: a confident answer cites the article of its intent's ``articles``
list that is most similar to the message (the model is far surer of the intent than the raw
similarity is of the article, so an article outside the list is never cited), and an intent
with no list cites nothing. Ask-back and out-of-scope turns search every article and cite only
above the retrieval threshold (fitted on the tuning half of ``data/retrieval/questions.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.chat.responses import IntentResponse, ResponseBook
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
    # Most articles an out-of-scope answer lists (the hits may hold every article).
    sources: int = 3


@dataclass(frozen=True)
class Suggestion:
    title: str
    intent: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str | None = None  # the article's public page, where the help centre has one


@dataclass(frozen=True)
class Reply:
    """``action`` is one of answer, clarify, knowledge, offer_human, handoff."""

    text: str
    action: str
    intent: str | None = None
    confidence: float | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    # A business action's form (``bot/chat/form_turn.py``): the action, the step, the slots
    # filled so far as staff see them (personal values redacted) and the call's outcome.
    form: dict[str, Any] | None = None


def decide(prediction: Prediction, hits: list[Hit], responses: ResponseBook, thresholds: Thresholds) -> Reply:
    if prediction.confidence < thresholds.out_of_scope:
        return out_of_scope_reply(hits, responses, thresholds)
    if prediction.confidence < thresholds.confidence:
        return clarify(prediction, responses, thresholds, hits)
    return answer_intent(prediction.intent, prediction.confidence, hits, responses, thresholds)


def needs_knowledge(prediction: Prediction, responses: ResponseBook, thresholds: Thresholds) -> bool:
    """Whether ``decide`` would look at knowledge-base hits for this prediction."""
    if prediction.confidence < thresholds.confidence:
        return True
    response = responses.get(prediction.intent)
    if response is None or not response.replies:
        return True
    return bool(cites_articles(response))


def cites_articles(response: IntentResponse) -> tuple[str, ...]:
    """The articles an answer of this intent may cite; empty: it cites none."""
    if not response.related_articles or response.handoff:
        return ()
    return response.articles


def intent_citations(response: IntentResponse, hits: list[Hit]) -> list[Hit]:
    """The intent's articles among ``hits``, most similar first (hits come sorted by score)."""
    allowed = set(cites_articles(response))
    return [hit for hit in hits if hit.article_id in allowed]


def open_citations(hits: list[Hit], thresholds: Thresholds) -> list[Hit]:
    """What a turn without a confident intent cites: the best hits at or above the threshold."""
    return [hit for hit in hits if hit.score >= thresholds.retrieval][: thresholds.sources]


def citation_candidates(
    prediction: Prediction, hits: list[Hit], responses: ResponseBook, thresholds: Thresholds
) -> list[Hit]:
    """The articles the reply to ``prediction`` chooses its citation from, best first: the
    first is the one ``decide`` cites (the evaluation ranks the rest)."""
    response = responses.get(prediction.intent)
    confident = prediction.confidence >= thresholds.confidence
    if not confident or response is None or not response.replies:
        return open_citations(hits, thresholds)
    return intent_citations(response, hits)


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
    # The sources travel beside the text (the widget shows them once, as links).
    cited = intent_citations(response, hits)[:1]
    sources = [Source(hit.article_id, hit.title) for hit in cited]
    return Reply(text, "answer", intent, confidence, sources=sources)


def clarify(
    prediction: Prediction, responses: ResponseBook, thresholds: Thresholds, hits: list[Hit] | None = None
) -> Reply:
    candidates = [intent for intent, _ in prediction.top_k[: thresholds.suggestions]]
    suggestions = [Suggestion(responses.title(intent), intent) for intent in candidates]
    cited = open_citations(hits or [], thresholds)[:1]
    return Reply(
        "I want to be sure I understand. Did you mean one of these?",
        "clarify",
        prediction.intent,
        prediction.confidence,
        suggestions=suggestions,
        sources=[Source(hit.article_id, hit.title) for hit in cited],
    )


def out_of_scope_reply(hits: list[Hit], responses: ResponseBook, thresholds: Thresholds) -> Reply:
    relevant = open_citations(hits, thresholds)
    if relevant:
        best = relevant[0]
        body = best.text.removeprefix(f"{best.title}. ")
        snippet = body if len(body) <= SNIPPET_CHARS else body[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
        text = f"This article from our help centre may answer that: {best.title}.\n\n{snippet}"
        # The other articles are listed once, as the reply's sources (links in the widget).
        return Reply(text, "knowledge", sources=[Source(h.article_id, h.title) for h in relevant])
    return Reply(
        "I'm sorry, I can't help with that one. Would you like me to connect you with a person?",
        "offer_human",
        suggestions=[Suggestion(responses.title(HUMAN_INTENT), HUMAN_INTENT)],
    )
