"""The console's list filters, transcript, review queue and CSAT averages, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import chat_store, csat, review
from bot.db.models import Conversation, CsatRating
from bot.db.review import ConversationFilters
from bot.db.review_queue import review_queue
from bot.staff.labels import add_staff_label
from tests.staff.support import new_conversation, seed_turn

INTENTS = ["track_order", "cancel_order", "refund_status"]


def ids(factory: sessionmaker[Session], **filters: object) -> set[str]:
    page = review.list_conversations(factory, ConversationFilters(**filters), 1, 100)  # type: ignore[arg-type]
    assert page.total == len(page.items)
    return {item.id for item in page.items}


def test_filters_select_the_right_conversations(db_factory: sessionmaker[Session]) -> None:
    f = db_factory
    parcel = new_conversation(f)
    seed_turn(f, parcel, "Where is my PARCEL 100%_done?", "track_order", 0.97)
    unsure = new_conversation(f)
    seed_turn(f, unsure, "stop the thing i bought", "cancel_order", 0.41, runner_up=0.38, action="clarify")
    fallback = new_conversation(f)
    seed_turn(f, fallback, "what is the capital of peru", "refund_status", 0.12, action="offer_human")
    handoff = new_conversation(f)
    seed_turn(f, handoff, "a human please", "human_agent", 0.99, action="handoff")
    _, bot = seed_turn(f, parcel, "thanks", "goodbye", 0.9)
    chat_store.add_feedback(f, parcel, bot.seq, "up")
    disliked = new_conversation(f)
    _, bot = seed_turn(f, disliked, "refund?", "refund_status", 0.9)
    chat_store.add_feedback(f, disliked, bot.seq, "up")
    chat_store.add_feedback(f, disliked, bot.seq, "down")
    review.set_reviewed(f, handoff, True, "alice")

    everything = {parcel, unsure, fallback, handoff, disliked}
    assert ids(f) == everything
    assert ids(f, text="parcel") == {parcel}
    # LIKE wildcards in the search are taken literally.
    assert ids(f, text="100%_done") == {parcel}
    assert ids(f, text="100%%") == set()
    assert ids(f, intent="cancel_order") == {unsure}
    assert ids(f, confidence_below=0.5) == {unsure, fallback}
    assert ids(f, fallback=True) == {fallback}
    assert ids(f, handoff=True) == {handoff}
    assert ids(f, handoff=False) == everything - {handoff}
    assert ids(f, thumbs_down=True) == {disliked}
    assert ids(f, reviewed=True) == {handoff}
    assert ids(f, reviewed=False) == everything - {handoff}
    assert ids(f, confidence_below=0.5, fallback=False) == {unsure}


def test_date_range_includes_both_whole_days(db_factory: sessionmaker[Session]) -> None:
    old, new = new_conversation(db_factory), new_conversation(db_factory)
    with db_factory() as session:
        moment = dt.datetime(2024, 3, 10, 23, 59, tzinfo=dt.UTC)
        session.execute(update(Conversation).where(Conversation.id == old).values(created_at=moment))
        session.commit()
    assert ids(db_factory, date_from=dt.date(2024, 3, 10), date_to=dt.date(2024, 3, 10)) == {old}
    assert ids(db_factory, date_to=dt.date(2024, 3, 9)) == set()
    assert new in ids(db_factory, date_from=dt.date.today() - dt.timedelta(days=1))


def test_list_is_paginated_newest_activity_first(sqlite_factory: sessionmaker[Session]) -> None:
    made = [new_conversation(sqlite_factory) for _ in range(5)]
    seed_turn(sqlite_factory, made[0], "hello again")
    first = review.list_conversations(sqlite_factory, ConversationFilters(), 1, 2)
    third = review.list_conversations(sqlite_factory, ConversationFilters(), 3, 2)
    assert first.total == 5 and len(first.items) == 2 and len(third.items) == 1
    assert first.items[0].id == made[0]
    assert first.items[0].preview == "hello again"


def test_transcript_shows_prediction_alternatives_sources_rating_and_labels(
    sqlite_factory: sessionmaker[Session],
) -> None:
    conversation = new_conversation(sqlite_factory)
    customer, bot = seed_turn(sqlite_factory, conversation, "where is it", "track_order", 0.62, runner_up=0.3)
    chat_store.add_feedback(sqlite_factory, conversation, bot.seq, "down")
    add_staff_label(sqlite_factory, customer.id, "refund_status", INTENTS, "alice")
    add_staff_label(sqlite_factory, customer.id, "track_order", INTENTS, "bob")
    transcript = review.transcript(sqlite_factory, conversation)
    assert transcript is not None
    found = transcript.model_dump(mode="json")  # what the console receives
    turn, reply = found["messages"]
    assert turn["prediction"]["intent"] == "track_order"
    assert turn["prediction"]["margin"] == 0.32
    assert [alt["intent"] for alt in turn["prediction"]["top_k"]] == ["track_order", "other_intent"]
    assert [(lab["intent"], lab["created_by"]) for lab in turn["labels"]] == [
        ("refund_status", "alice"),
        ("track_order", "bob"),
    ]
    assert turn["label"]["created_by"] == "bob"
    assert reply["rating"] == "down" and reply["action"] == "answer"
    assert found["conversation"]["thumbs_down"] == 1


def test_review_queue_puts_the_most_useful_turns_first(db_factory: sessionmaker[Session]) -> None:
    f = db_factory
    conversation = new_conversation(f)
    sure, _ = seed_turn(f, conversation, "where is my parcel", "track_order", 0.98, runner_up=0.01)
    close_call, _ = seed_turn(f, conversation, "cancel or refund?", "cancel_order", 0.55, runner_up=0.5)
    unsure, _ = seed_turn(f, conversation, "hmm", "refund_status", 0.4, runner_up=0.1)
    disliked, bot = seed_turn(f, conversation, "my refund", "refund_status", 0.9, runner_up=0.05)
    chat_store.add_feedback(f, conversation, bot.seq, "down")
    labelled, _ = seed_turn(f, conversation, "labelled already", "track_order", 0.2, runner_up=0.19)
    add_staff_label(f, labelled.id, "track_order", INTENTS, "alice")
    clicked, _ = seed_turn(f, conversation, "send it back", "refund_status", 0.6, runner_up=0.2)
    chat_store.add_label(f, clicked.id, "return_item", "suggestion_click")

    page = review_queue(f, 1, 10)
    order = [item.message_id for item in page.items]
    assert labelled.id not in order
    # Scores: clicked 0.4 + 0.6 + 0.75; close call 0.45 + 0.95; unsure 0.6 + 0.7;
    # disliked 0.1 + 0.15 + 1; sure 0.02 + 0.03.
    assert order == [clicked.id, close_call.id, unsure.id, disliked.id, sure.id]
    assert page.total == 5
    assert [item.score for item in page.items] == [1.75, 1.4, 1.3, 1.25, 0.05]
    assert page.items[0].suggestion_click is True and page.items[1].margin == 0.05
    assert page.items[3].thumbs_down is True and page.items[2].thumbs_down is False


def test_reviewed_conversation_leaves_the_queue(sqlite_factory: sessionmaker[Session]) -> None:
    conversation = new_conversation(sqlite_factory)
    seed_turn(sqlite_factory, conversation, "hmm", "refund_status", 0.4)
    assert review_queue(sqlite_factory, 1, 10).total == 1
    review.set_reviewed(sqlite_factory, conversation, True, "alice")
    assert review_queue(sqlite_factory, 1, 10).total == 0


def test_csat_averages_use_each_conversations_newest_rating(db_factory: sessionmaker[Session]) -> None:
    f = db_factory
    happy, grumpy, lost = new_conversation(f), new_conversation(f), new_conversation(f)
    seed_turn(f, happy, "where is it", "track_order", 0.9)
    seed_turn(f, grumpy, "where is it", "track_order", 0.9)
    seed_turn(f, grumpy, "and my refund", "refund_status", 0.9)
    seed_turn(f, lost, "capital of peru", "refund_status", 0.1, action="offer_human")
    csat.record_csat(f, happy, 2, "")
    csat.record_csat(f, happy, 5, "changed my mind")
    csat.record_csat(f, grumpy, 1, "slow")
    csat.record_csat(f, lost, 3, "")
    with f() as session:
        overall = csat.overall(session)
        per_intent = {row.key: (row.count, row.average) for row in csat.per_intent(session)}
        session.execute(
            update(CsatRating)
            .where(CsatRating.conversation_id == lost)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(weeks=1))
        )
        session.commit()
        weeks = csat.per_week(session)
    assert (overall.count, overall.average) == (3, 3.0)
    # Once per conversation, under its first answered intent: the counts add up to the overall count.
    assert per_intent == {"track_order": (2, 3.0), "out_of_scope": (1, 3.0)}
    assert [week.count for week in weeks] == [2, 1]
    assert dt.date.fromisoformat(weeks[0].key).weekday() == 0
