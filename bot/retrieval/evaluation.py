"""Score article citations on the labelled retrieval set, along two paths:

- ``retriever``: the plain ranking of every article by similarity to the question;
- ``citations``: what the bot would cite in its reply (the intent model's prediction, the
  intent's article list and the thresholds of ``bot.chat.policy``), the cited article first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.chat.policy import Thresholds, citation_candidates, decide
from bot.chat.responses import ResponseBook
from bot.intents.classifier import Classifier
from bot.retrieval.index import Hit, KnowledgeIndex
from bot.retrieval.metrics import RankedQuestion, fit_threshold, precision_above, ranking_metrics
from bot.retrieval.questions import LabelledQuestion

# The share of right citations the fitted threshold is chosen for.
THRESHOLD_TARGET = 0.9
THRESHOLD_TABLE = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def all_hits(index: KnowledgeIndex, questions: Sequence[LabelledQuestion]) -> list[list[Hit]]:
    """Every article for every question, most similar first (one encoder pass for all)."""
    return index.search_many([q.question for q in questions], top_k=max(1, len(index.articles)))


def retriever_rankings(questions: Sequence[LabelledQuestion], hits: list[list[Hit]]) -> list[RankedQuestion]:
    return [
        RankedQuestion(
            q.question, q.articles, tuple(hit.article_id for hit in found), found[0].score if found else None
        )
        for q, found in zip(questions, hits, strict=True)
    ]


def citation_rankings(
    questions: Sequence[LabelledQuestion],
    hits: list[list[Hit]],
    classifier: Classifier,
    responses: ResponseBook,
    thresholds: Thresholds,
) -> list[RankedQuestion]:
    predictions = classifier.classify([q.question for q in questions])
    rows = []
    for q, found, prediction in zip(questions, hits, predictions, strict=True):
        candidates = citation_candidates(prediction, found, responses, thresholds)
        cited = decide(prediction, found, responses, thresholds).sources
        # What the reply cites leads; the candidates it chose from rank the rest.
        ranked = [source.id for source in cited[:1]]
        ranked += [hit.article_id for hit in candidates if hit.article_id not in ranked]
        rows.append(RankedQuestion(q.question, q.articles, tuple(ranked) if cited else ()))
    return rows


def threshold_fit(rows: Sequence[RankedQuestion], setting: float) -> dict[str, Any]:
    """How often the retriever's first article is right above each score: for the threshold
    below which ask-back and out-of-scope turns cite nothing."""
    share, count = precision_above(rows, setting)
    return {
        "setting": setting,
        "right_above_setting": round(share, 4),
        "questions_above_setting": count,
        "target": THRESHOLD_TARGET,
        "fitted": fit_threshold(rows, THRESHOLD_TARGET),
        "table": [
            {
                "threshold": cut,
                "right": round(precision_above(rows, cut)[0], 4),
                "questions": precision_above(rows, cut)[1],
            }
            for cut in THRESHOLD_TABLE
        ],
    }


def evaluate_retrieval(
    questions: Sequence[LabelledQuestion],
    index: KnowledgeIndex,
    classifier: Classifier,
    responses: ResponseBook,
    thresholds: Thresholds,
) -> tuple[dict[str, Any], list[RankedQuestion], list[RankedQuestion]]:
    """The metrics of both paths, and the rows of each (for the report)."""
    hits = all_hits(index, questions)
    plain = retriever_rankings(questions, hits)
    cited = citation_rankings(questions, hits, classifier, responses, thresholds)
    result = {
        "questions": len(questions),
        "retriever": ranking_metrics(plain),
        "citations": ranking_metrics(cited),
        "threshold": threshold_fit(plain, thresholds.retrieval),
    }
    return result, plain, cited
