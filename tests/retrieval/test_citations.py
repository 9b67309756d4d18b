"""The shipped retrieval set, and the intent-list citation rule over all of it."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.chat.policy import Thresholds, citation_candidates, decide
from bot.config import PROJECT_ROOT
from bot.content.files import read_content_dir
from bot.retrieval.articles import load_articles
from bot.retrieval.evaluation import all_hits
from bot.retrieval.questions import QUESTIONS_FILE, LabelledQuestion, Split, load_questions
from bot.services import Models

DATA = PROJECT_ROOT / "data"
THRESHOLDS = Thresholds(confidence=0.55, out_of_scope=0.2, retrieval=0.45, suggestions=3, sources=3)


@pytest.fixture(scope="module")
def questions() -> list[LabelledQuestion]:
    return load_questions(DATA / QUESTIONS_FILE, {a.id for a in load_articles(DATA / "knowledge")})


def test_retrieval_set_covers_every_article_in_both_halves(questions: list[LabelledQuestion]) -> None:
    assert len(questions) >= 200
    articles = {a.id for a in load_articles(DATA / "knowledge")}
    for split in Split:
        primaries = Counter(q.primary for q in questions if q.split == split)
        assert set(primaries) == articles, f"every article is the answer of {split} questions"
    everywhere = Counter(article for q in questions for article in q.articles)
    assert min(everywhere[a] for a in articles) >= 5
    assert len({q.question.lower() for q in questions}) == len(questions), "no duplicates"


def test_every_intent_article_list_names_shipped_articles() -> None:
    content = read_content_dir(DATA)  # checks the references too
    listed = {article for response in content.responses.values() for article in response.articles}
    assert listed and listed <= set(content.articles)


def test_confident_answers_cite_only_and_always_from_their_intents_list(
    models: Models, questions: list[LabelledQuestion]
) -> None:
    hits = all_hits(models.index, questions)
    predictions = models.classifier.classify([q.question for q in questions])
    confident = 0
    for question, found, prediction in zip(questions, hits, predictions, strict=True):
        reply = decide(prediction, found, models.responses, THRESHOLDS)
        cited = [source.id for source in reply.sources]
        candidates = citation_candidates(prediction, found, models.responses, THRESHOLDS)
        assert cited[:1] == [hit.article_id for hit in candidates[:1]], question.question
        if reply.action != "answer":
            continue
        confident += 1
        response = models.responses.get(prediction.intent)
        assert response is not None
        allowed = response.articles if response.related_articles else ()
        assert set(cited) <= set(allowed), (question.question, prediction.intent, cited)
        assert bool(cited) == bool(allowed), (question.question, prediction.intent)
    assert confident > len(questions) // 2, "the rule was checked on most of the set"
