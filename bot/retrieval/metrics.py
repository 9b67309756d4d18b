"""Ranking metrics of article citations: recall@1, recall@3, MRR, per article, confusions.

A question is answered by any of its labelled articles. ``ranked`` is what a path would cite,
best first; an empty ranking (the path cites nothing) counts as a miss at every depth.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NOTHING = "(nothing)"


@dataclass(frozen=True)
class RankedQuestion:
    question: str
    articles: tuple[str, ...]  # the right answers, the best first
    ranked: tuple[str, ...]  # what was cited, best first
    top_score: float | None = None  # similarity of ranked[0], where a score exists

    def rank(self) -> int | None:
        """1-based position of the first right article; None: not ranked at all."""
        right = set(self.articles)
        return next((i + 1 for i, article in enumerate(self.ranked) if article in right), None)

    def hit_at(self, depth: int) -> bool:
        found = self.rank()
        return found is not None and found <= depth

    @property
    def cited(self) -> str:
        return self.ranked[0] if self.ranked else NOTHING


def summary(rows: Sequence[RankedQuestion]) -> dict[str, Any]:
    if not rows:
        return {"questions": 0, "recall_at_1": 0.0, "recall_at_3": 0.0, "mrr": 0.0}
    reciprocal = [1 / r if (r := row.rank()) is not None else 0.0 for row in rows]
    return {
        "questions": len(rows),
        "recall_at_1": round(sum(row.hit_at(1) for row in rows) / len(rows), 4),
        "recall_at_3": round(sum(row.hit_at(3) for row in rows) / len(rows), 4),
        "mrr": round(sum(reciprocal) / len(rows), 4),
    }


def ranking_metrics(rows: Sequence[RankedQuestion]) -> dict[str, Any]:
    """Overall figures, the same per article (a question counts for each of its articles) and
    the confusions: which article (or nothing) was cited first instead of the right one."""
    by_article: dict[str, list[RankedQuestion]] = defaultdict(list)
    for row in rows:
        for article in row.articles:
            by_article[article].append(row)
    confusions = Counter((row.articles[0], row.cited) for row in rows if not row.hit_at(1))
    return {
        **summary(rows),
        "per_article": {article: summary(by_article[article]) for article in sorted(by_article)},
        "confusions": [
            {"expected": expected, "cited": cited, "count": count}
            for (expected, cited), count in sorted(confusions.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


def precision_above(rows: Sequence[RankedQuestion], threshold: float) -> tuple[float, int]:
    """Share of right first citations among rows whose top score is at least ``threshold``,
    and how many such rows there are."""
    above = [row for row in rows if row.top_score is not None and row.top_score >= threshold]
    if not above:
        return 1.0, 0
    return sum(row.hit_at(1) for row in above) / len(above), len(above)


def fit_threshold(rows: Sequence[RankedQuestion], target: float) -> float | None:
    """The lowest top score at and above which the first citation is right in at least
    ``target`` of the rows; None if no cut reaches it."""
    cuts = sorted({row.top_score for row in rows if row.top_score is not None})
    return next((cut for cut in cuts if precision_above(rows, cut)[0] >= target), None)
