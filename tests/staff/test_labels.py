"""Staff labels append with history; new intent names go through proposals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import IntentProposal, Label
from bot.errors import Refusal
from bot.staff.labels import add_staff_label, decide_proposal, labels_of, list_proposals
from tests.staff.support import new_conversation, seed_turn

KNOWN = ["track_order", "cancel_order"]


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_later_label_supersedes_without_erasing_history(sqlite_factory: sessionmaker[Session]) -> None:
    customer, _ = seed_turn(sqlite_factory, new_conversation(sqlite_factory), "where is it")
    add_staff_label(sqlite_factory, customer.id, "cancel_order", KNOWN, "alice")
    add_staff_label(sqlite_factory, customer.id, "out_of_scope", KNOWN, "bob")
    history = labels_of(sqlite_factory, customer.id)
    assert [(label.intent, label.source, label.created_by) for label in history] == [
        ("cancel_order", "staff", "alice"),
        ("out_of_scope", "staff", "bob"),
    ]
    assert history[0].created_at <= history[1].created_at


def test_proposing_a_new_intent_files_it_once(db_factory: sessionmaker[Session]) -> None:
    conversation = new_conversation(db_factory)
    first, _ = seed_turn(db_factory, conversation, "gift wrap?")
    second, _ = seed_turn(db_factory, conversation, "can you wrap it")
    add_staff_label(db_factory, first.id, "gift_wrapping", KNOWN, "alice", propose=True)
    add_staff_label(db_factory, second.id, "gift_wrapping", KNOWN, "bob", propose=True)
    # Once proposed, the name can be picked like any intent.
    add_staff_label(db_factory, second.id, "gift_wrapping", KNOWN, "carol")
    (proposal,) = list_proposals(db_factory)
    assert (proposal.name, proposal.status, proposal.proposed_by) == ("gift_wrapping", "pending", "alice")
    assert count(db_factory, Label) == 3


def test_operator_decision_is_recorded_and_final(sqlite_factory: sessionmaker[Session]) -> None:
    customer, _ = seed_turn(sqlite_factory, new_conversation(sqlite_factory), "gift wrap?")
    add_staff_label(sqlite_factory, customer.id, "gift_wrapping", KNOWN, "alice", propose=True)
    decided = decide_proposal(sqlite_factory, "gift_wrapping", False, "olga")
    assert (decided.status, decided.decided_by) == ("rejected", "olga") and decided.decided_at is not None
    with pytest.raises(Refusal) as again:
        decide_proposal(sqlite_factory, "gift_wrapping", True, "olga")
    assert again.value.code == "already_decided"
    with pytest.raises(Refusal) as rejected:
        add_staff_label(sqlite_factory, customer.id, "gift_wrapping", KNOWN, "alice")
    assert rejected.value.code == "proposal_rejected"


@pytest.mark.parametrize(
    ("intent", "propose", "code"),
    [
        ("no_such_intent", False, "unknown_intent"),
        ("Gift Wrapping", True, "invalid_intent_name"),
        ("x", True, "invalid_intent_name"),
        ("track_order", True, "intent_exists"),
        ("out_of_scope", True, "intent_exists"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_stored(
    sqlite_factory: sessionmaker[Session], intent: str, propose: bool, code: str
) -> None:
    customer, _ = seed_turn(sqlite_factory, new_conversation(sqlite_factory), "hello")
    with pytest.raises(Refusal) as refused:
        add_staff_label(sqlite_factory, customer.id, intent, KNOWN, "alice", propose=propose)
    assert refused.value.code == code
    assert count(sqlite_factory, Label) == 0
    assert count(sqlite_factory, IntentProposal) == 0


def test_only_customer_turns_take_labels(sqlite_factory: sessionmaker[Session]) -> None:
    _, bot = seed_turn(sqlite_factory, new_conversation(sqlite_factory), "hello")
    with pytest.raises(Refusal) as bot_turn:
        add_staff_label(sqlite_factory, bot.id, "track_order", KNOWN, "alice")
    with pytest.raises(Refusal) as missing:
        add_staff_label(sqlite_factory, 999_999, "track_order", KNOWN, "alice")
    assert (bot_turn.value.code, missing.value.code) == ("not_a_customer_turn", "unknown_message")
