"""The dialogue policy: confidence bands, knowledge fallback, a person when nothing fits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chat.policy import (
    HUMAN_INTENT,
    SNIPPET_CHARS,
    Source,
    Suggestion,
    Thresholds,
    decide,
    needs_knowledge,
)
from bot.chat.responses import ResponseBook, load_responses
from bot.config import PROJECT_ROOT
from bot.intents.model import Prediction
from bot.retrieval.index import Hit

THRESHOLDS = Thresholds(confidence=0.55, out_of_scope=0.30, retrieval=0.45, suggestions=3)
SMALL_TALK = ["greeting", "goodbye", "thanks", "bot_challenge"]


@pytest.fixture(scope="module")
def responses() -> ResponseBook:
    return load_responses(PROJECT_ROOT / "data" / "responses.yml")


def prediction(confidence: float, intent: str = "track_order") -> Prediction:
    others = [("delivery_time", (1 - confidence) * 0.6), ("missing_item", (1 - confidence) * 0.3)]
    return Prediction(intent, confidence, [(intent, confidence), *others])


def hit(article_id: str, score: float, text: str = "") -> Hit:
    title = article_id.replace("-", " ").capitalize()
    return Hit(article_id, title, f"{title}. {text or 'Body of ' + title}", score)


def test_confident_prediction_is_answered_with_a_reply_of_that_intent(responses: ResponseBook) -> None:
    reply = decide(prediction(0.9), [], responses, THRESHOLDS)
    assert reply.action == "answer"
    assert (reply.intent, reply.confidence) == ("track_order", 0.9)
    assert reply.text in responses.responses["track_order"].replies
    assert reply.suggestions == [] and reply.sources == []


def test_confidence_exactly_at_the_threshold_is_answered(responses: ResponseBook) -> None:
    assert decide(prediction(0.55), [], responses, THRESHOLDS).action == "answer"


def test_middle_band_asks_back_with_the_top_intents_as_suggestions(responses: ResponseBook) -> None:
    reply = decide(prediction(0.40), [hit("tracking-a-parcel", 0.9)], responses, THRESHOLDS)
    assert reply.action == "clarify"
    assert reply.intent == "track_order" and reply.confidence == 0.40
    assert reply.suggestions == [
        Suggestion("Track my order", "track_order"),
        Suggestion("When will my order arrive?", "delivery_time"),
        Suggestion(responses.title("missing_item"), "missing_item"),
    ]
    assert reply.sources == [Source("tracking-a-parcel", "Tracking a parcel")]


def test_ask_back_cites_nothing_below_the_retrieval_threshold(responses: ResponseBook) -> None:
    reply = decide(prediction(0.40), [hit("tracking-a-parcel", 0.44)], responses, THRESHOLDS)
    assert reply.action == "clarify" and reply.sources == []


def test_number_of_suggestions_follows_the_setting(responses: ResponseBook) -> None:
    two = Thresholds(confidence=0.55, out_of_scope=0.30, retrieval=0.45, suggestions=2)
    reply = decide(prediction(0.40), [], responses, two)
    assert [s.intent for s in reply.suggestions] == ["track_order", "delivery_time"]


def test_out_of_scope_is_answered_from_the_knowledge_base_with_sources(responses: ResponseBook) -> None:
    hits = [hit("student-discount", 0.72), hit("promo-codes", 0.51), hit("gift-cards", 0.20)]
    reply = decide(prediction(0.10), hits, responses, THRESHOLDS)
    assert reply.action == "knowledge"
    assert reply.intent is None and reply.suggestions == []
    assert reply.sources == [
        Source("student-discount", "Student discount"),
        Source("promo-codes", "Promo codes"),
    ]
    assert reply.text.startswith("This article from our help centre may answer that: Student discount.")
    assert "Body of Student discount" in reply.text
    # The other articles are the sources only: the widget lists them once, as links.
    assert "See also" not in reply.text and "Promo codes" not in reply.text


def test_knowledge_answer_quotes_at_most_a_snippet_of_a_long_article(responses: ResponseBook) -> None:
    long_text = " ".join(f"word{i}" for i in range(400))
    reply = decide(prediction(0.10), [hit("return-policy", 0.8, long_text)], responses, THRESHOLDS)
    snippet = reply.text.split("\n\n", 1)[1]
    assert snippet.endswith("…") and len(snippet) <= SNIPPET_CHARS + 1
    assert long_text.startswith(snippet[:-1])


def test_out_of_scope_without_a_similar_article_offers_a_person(responses: ResponseBook) -> None:
    reply = decide(prediction(0.10), [hit("gift-cards", 0.44)], responses, THRESHOLDS)
    assert reply.action == "offer_human"
    assert reply.sources == []
    assert reply.suggestions == [Suggestion(responses.title(HUMAN_INTENT), HUMAN_INTENT)]


def test_answer_names_a_related_article_as_its_source(responses: ResponseBook) -> None:
    hits = [hit("tracking-a-parcel", 0.66), hit("delivery-times", 0.60)]
    reply = decide(prediction(0.9), hits, responses, THRESHOLDS)
    assert reply.action == "answer"
    assert "help centre" not in reply.text  # once, as a source, not in the text as well


def test_answer_cites_only_among_the_articles_of_its_intent(responses: ResponseBook) -> None:
    assert "return-policy" not in responses.responses["track_order"].articles
    hits = [hit("return-policy", 0.9), hit("delivery-times", 0.5), hit("tracking-a-parcel", 0.3)]
    reply = decide(prediction(0.9), hits, responses, THRESHOLDS)
    # Below the retrieval threshold still: the intent is sure, the list names the candidates.
    assert reply.sources == [Source("delivery-times", "Delivery times")]


def test_answer_of_an_intent_without_articles_cites_nothing(responses: ResponseBook) -> None:
    book = ResponseBook(dict(responses.responses))
    book.responses["track_order"] = replace(book.responses["track_order"], articles=())
    reply = decide(prediction(0.9), [hit("tracking-a-parcel", 0.9)], book, THRESHOLDS)
    assert reply.action == "answer" and reply.sources == []
    assert not needs_knowledge(prediction(0.9), book, THRESHOLDS)


@pytest.mark.parametrize("intent", SMALL_TALK)
def test_small_talk_never_links_an_article(responses: ResponseBook, intent: str) -> None:
    reply = decide(prediction(0.95, intent), [hit("contacting-customer-service", 0.9)], responses, THRESHOLDS)
    assert reply.action == "answer" and reply.intent == intent
    assert reply.sources == [] and "help centre" not in reply.text


def test_asking_for_a_person_hands_the_conversation_over(responses: ResponseBook) -> None:
    reply = decide(
        prediction(0.95, HUMAN_INTENT), [hit("contacting-customer-service", 0.9)], responses, THRESHOLDS
    )
    assert reply.action == "handoff" and reply.intent == HUMAN_INTENT
    assert reply.sources == []


def test_intent_missing_from_the_reply_book_falls_back_to_knowledge(responses: ResponseBook) -> None:
    reply = decide(prediction(0.95, "brand_new_intent"), [hit("size-guide-fit", 0.7)], responses, THRESHOLDS)
    assert reply.action == "knowledge"
    assert reply.sources == [Source("size-guide-fit", "Size guide fit")]


@pytest.mark.parametrize(
    "predicted",
    [
        prediction(0.9),
        prediction(0.95, "greeting"),
        prediction(0.95, HUMAN_INTENT),
        prediction(0.40),
        prediction(0.10),
        prediction(0.95, "brand_new_intent"),
    ],
)
def test_search_is_skipped_only_where_the_reply_ignores_its_hits(
    responses: ResponseBook, predicted: Prediction
) -> None:
    hits = [hit("tracking-a-parcel", 0.8)]
    with_hits = decide(predicted, hits, responses, THRESHOLDS)
    without_hits = decide(predicted, [], responses, THRESHOLDS)
    ignores_hits = (with_hits.action, with_hits.sources) == (without_hits.action, without_hits.sources)
    assert needs_knowledge(predicted, responses, THRESHOLDS) is not ignores_hits
