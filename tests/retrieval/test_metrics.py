"""Ranking metrics on a hand-built set whose figures are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.retrieval.metrics import NOTHING, RankedQuestion, fit_threshold, precision_above, ranking_metrics
from bot.retrieval.questions import LabelledQuestion, QuestionSetError, Split, load_questions

ROWS = [
    # right first: rank 1
    RankedQuestion("q1", ("a",), ("a", "b", "c"), 0.9),
    # right second: rank 2
    RankedQuestion("q2", ("a",), ("b", "a", "c"), 0.8),
    # right fourth: rank 4, outside recall@3
    RankedQuestion("q3", ("b",), ("c", "a", "d", "b"), 0.7),
    # two right articles, the second is cited first: rank 1
    RankedQuestion("q4", ("c", "d"), ("d", "a"), 0.6),
    # nothing cited: a miss everywhere
    RankedQuestion("q5", ("b",), ()),
]


def test_overall_figures() -> None:
    result = ranking_metrics(ROWS)
    assert result["questions"] == 5
    assert result["recall_at_1"] == 0.4  # q1, q4
    assert result["recall_at_3"] == 0.6  # q1, q2, q4
    assert result["mrr"] == round((1 + 1 / 2 + 1 / 4 + 1 + 0) / 5, 4) == 0.55


def test_per_article_counts_a_question_for_each_of_its_articles() -> None:
    per_article = ranking_metrics(ROWS)["per_article"]
    assert sorted(per_article) == ["a", "b", "c", "d"]
    assert per_article["a"] == {"questions": 2, "recall_at_1": 0.5, "recall_at_3": 1.0, "mrr": 0.75}
    assert per_article["b"] == {"questions": 2, "recall_at_1": 0.0, "recall_at_3": 0.0, "mrr": 0.125}
    assert (
        per_article["c"]
        == per_article["d"]
        == {"questions": 1, "recall_at_1": 1.0, "recall_at_3": 1.0, "mrr": 1.0}
    )


def test_confusions_name_what_was_cited_instead_of_the_first_right_article() -> None:
    rows = [*ROWS, RankedQuestion("q6", ("a",), ("b",), 0.5)]
    assert ranking_metrics(rows)["confusions"] == [
        {"expected": "a", "cited": "b", "count": 2},
        {"expected": "b", "cited": NOTHING, "count": 1},
        {"expected": "b", "cited": "c", "count": 1},
    ]


def test_threshold_is_the_lowest_score_with_the_target_share_right() -> None:
    assert precision_above(ROWS, 0.75) == (0.5, 2)  # q1 right, q2 wrong
    assert precision_above(ROWS, 0.6) == (0.5, 4)
    assert precision_above(ROWS, 0.95) == (1.0, 0)
    assert fit_threshold(ROWS, 1.0) == 0.9
    assert fit_threshold(ROWS, 0.5) == 0.6
    assert fit_threshold([RankedQuestion("q", ("a",), ("b",), 0.9)], 0.5) is None


def test_empty_set_scores_zero() -> None:
    assert ranking_metrics([])["recall_at_1"] == 0.0


def test_question_file_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "questions.csv"
    path.write_text(
        "question,articles,split\n"
        "where is it,tracking-a-parcel,tune\n"
        "two answers,tracking-a-parcel; delivery-times,test\n"
        ",tracking-a-parcel,tune\n"
        "unknown,no-such-article,test\n"
        "bad split,tracking-a-parcel,val\n",
        encoding="utf-8",
    )
    with pytest.raises(QuestionSetError) as raised:
        load_questions(path, {"tracking-a-parcel", "delivery-times"})
    assert raised.value.problems == [
        "questions.csv line 4: empty question",
        "questions.csv line 5: unknown article 'no-such-article'",
        "questions.csv line 6: split must be tune or test, not 'val'",
    ]
    path.write_text("question,articles,split\ntwo answers,tracking-a-parcel; delivery-times,test\n")
    assert load_questions(path, {"tracking-a-parcel", "delivery-times"}) == [
        LabelledQuestion("two answers", ("tracking-a-parcel", "delivery-times"), Split.TEST)
    ]
