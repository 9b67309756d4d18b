"""Taking over, writing, handing back and closing, enforced by the database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.db import chat_store
from bot.errors import Refusal
from bot.staff import accounts, handoff
from bot.staff.accounts import StaffIdentity
from tests.staff.support import PASSWORD, new_conversation

RACERS = 6


def agents(factory: sessionmaker[Session], count: int) -> list[StaffIdentity]:
    return [accounts.create_user(factory, f"agent{i}", PASSWORD, "agent", f"Agent {i}") for i in range(count)]


def test_only_one_of_many_racing_staff_takes_a_conversation(db_factory: sessionmaker[Session]) -> None:
    conversation = new_conversation(db_factory)
    chat_store.set_status(db_factory, conversation, "waiting")
    racers = agents(db_factory, RACERS)
    start = threading.Barrier(RACERS)
    outcomes: dict[str, str] = {}

    def race(staff: StaffIdentity) -> None:
        start.wait()
        try:
            handoff.take_over(db_factory, conversation, staff)
            outcomes[staff.username] = "won"
        except Refusal as error:
            outcomes[staff.username] = error.code

    threads = [threading.Thread(target=race, args=(staff,)) for staff in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1
    assert sorted(outcomes.values()).count("taken") == RACERS - 1
    assert handoff.agent_name(db_factory, conversation) == f"Agent {winners[0][-1]}"


def test_agent_messages_need_the_conversation(sqlite_factory: sessionmaker[Session]) -> None:
    conversation = new_conversation(sqlite_factory)
    ann, ben = agents(sqlite_factory, 2)
    with pytest.raises(Refusal) as before:
        handoff.add_agent_message(sqlite_factory, conversation, ann, "hello")
    handoff.take_over(sqlite_factory, conversation, ann)
    message = handoff.add_agent_message(sqlite_factory, conversation, ann, "Hi, Ann here")
    with pytest.raises(Refusal) as other:
        handoff.add_agent_message(sqlite_factory, conversation, ben, "me too")
    assert (before.value.code, other.value.code) == ("not_taken_over", "not_yours")
    assert (message.role, message.seq, message.payload) == ("agent", 1, {"agent_name": "Agent 0"})


def test_hand_back_and_close_belong_to_the_agent_unless_overridden(
    sqlite_factory: sessionmaker[Session],
) -> None:
    conversation = new_conversation(sqlite_factory)
    ann, ben = agents(sqlite_factory, 2)
    handoff.take_over(sqlite_factory, conversation, ann)
    with pytest.raises(Refusal) as not_ben:
        handoff.hand_back(sqlite_factory, conversation, ben)
    with pytest.raises(Refusal) as not_ben_either:
        handoff.close(sqlite_factory, conversation, ben)
    assert not_ben.value.code == not_ben_either.value.code == "not_yours"
    handoff.hand_back(sqlite_factory, conversation, ben, override=True)
    assert chat_store.get_conversation(sqlite_factory, conversation).status == "bot"
    handoff.take_over(sqlite_factory, conversation, ben)
    handoff.close(sqlite_factory, conversation, ben)
    closed = chat_store.get_conversation(sqlite_factory, conversation)
    assert (closed.status, closed.assigned_to_id) == ("closed", None)
    with pytest.raises(Refusal) as twice:
        handoff.close(sqlite_factory, conversation, ben)
    assert twice.value.code == "already_closed"


def test_live_queue_lists_waiting_before_taken(sqlite_factory: sessionmaker[Session]) -> None:
    waiting, taken, idle = (new_conversation(sqlite_factory) for _ in range(3))
    (ann,) = agents(sqlite_factory, 1)
    chat_store.set_status(sqlite_factory, waiting, "waiting")
    handoff.take_over(sqlite_factory, taken, ann)
    assert [c.id for c in handoff.live_conversations(sqlite_factory)] == [waiting, taken]
    assert idle not in {c.id for c in handoff.live_conversations(sqlite_factory)}
