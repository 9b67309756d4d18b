"""Group commit on SQLite and PostgreSQL: concurrent turns share commits, every write lands
exactly once, a failing write fails only its own caller, and nothing is reported before it is
committed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.batching import BatcherClosedError
from bot.chat.conversation import Answered
from bot.chat.group_commit import GroupCommitter, Write
from bot.config import Settings
from bot.db import chat_store
from bot.db.migrate import upgrade
from bot.db.models import Message, Prediction
from bot.db.session import create_db_engine, create_session_factory
from bot.services import Models, build_services

TIMEOUT_S = 60.0


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return create_session_factory(engine)


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    def on_commit(_connection: Any) -> None:
        commits[0] += 1

    event.listen(engine, "commit", on_commit)
    return commits


def customer_write(factory: sessionmaker[Session], conversation_id: str, client_id: str) -> Write[Any]:
    text = f"message {client_id}"
    return Write(
        grouped=lambda session: chat_store.append_customer_message(session, conversation_id, client_id, text),
        alone=lambda: chat_store.add_customer_message(factory, conversation_id, client_id, text),
    )


def run_all(committer: GroupCommitter, writes: list[Write[Any]]) -> list[Any]:
    async def everyone_at_once() -> list[Any]:
        calls = (committer.run(write) for write in writes)
        return list(await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), TIMEOUT_S))

    return asyncio.run(everyone_at_once())


def stored_messages(factory: sessionmaker[Session]) -> list[tuple[str, int, str | None]]:
    with factory() as session:
        rows = session.execute(select(Message.conversation_id, Message.seq, Message.client_id)).all()
        return sorted(rows)


def test_concurrent_writes_share_commits_and_each_lands_once(
    factory: sessionmaker[Session], engine: Engine
) -> None:
    conversations = [chat_store.open_conversation(factory, None)[0].id for _ in range(8)]
    commits = count_commits(engine)
    committer = GroupCommitter(factory)
    writes = [customer_write(factory, c, f"m{i}") for i in range(5) for c in conversations]
    try:
        results = run_all(committer, writes)
    finally:
        committer.close()
    assert all(new for _message, new in results)
    stored = stored_messages(factory)
    assert len(stored) == 40
    for conversation in conversations:  # each conversation numbered 1..5 with no gap or repeat
        assert sorted(seq for c, seq, _ in stored if c == conversation) == [1, 2, 3, 4, 5]
    assert commits[0] < len(writes)  # grouped: fewer commits than writes


def test_a_failing_write_fails_only_its_own_caller(factory: sessionmaker[Session]) -> None:
    conversation = chat_store.open_conversation(factory, None)[0].id
    committer = GroupCommitter(factory)
    good = [customer_write(factory, conversation, f"ok{i}") for i in range(6)]
    vanished = customer_write(factory, "no-such-conversation", "lost")
    try:
        results = run_all(committer, [*good[:3], vanished, *good[3:]])
    finally:
        committer.close()
    failures = [result for result in results if isinstance(result, BaseException)]
    assert len(failures) == 1 and results[3] is failures[0]
    assert [client for _, _, client in stored_messages(factory)] == sorted(f"ok{i}" for i in range(6))


def test_a_retry_in_the_same_group_is_stored_once(factory: sessionmaker[Session]) -> None:
    conversation = chat_store.open_conversation(factory, None)[0].id
    committer = GroupCommitter(factory)
    try:
        first, again = run_all(committer, [customer_write(factory, conversation, "same")] * 2)
    finally:
        committer.close()
    assert first[0].id == again[0].id and [first[1], again[1]] == [True, False]
    assert len(stored_messages(factory)) == 1


def test_a_reported_write_is_visible_to_every_other_connection(factory: sessionmaker[Session]) -> None:
    conversation = chat_store.open_conversation(factory, None)[0].id
    committer = GroupCommitter(factory)

    async def write_then_look() -> int:
        await committer.run(customer_write(factory, conversation, "durable"))
        with factory() as session:  # a different connection from the pool
            return int(session.scalar(select(func.count()).select_from(Message)) or 0)

    try:
        assert asyncio.run(write_then_look()) == 1
    finally:
        committer.close()


def test_a_closed_committer_refuses_new_writes(factory: sessionmaker[Session]) -> None:
    conversation = chat_store.open_conversation(factory, None)[0].id
    committer = GroupCommitter(factory)
    committer.close()
    (result,) = run_all(committer, [customer_write(factory, conversation, "late")])
    assert isinstance(result, BatcherClosedError)
    assert stored_messages(factory) == []


def test_the_server_groups_commits_on_sqlite_and_postgresql(
    settings: Settings, models: Models, database_url: str
) -> None:
    services = build_services(settings.model_copy(update={"database_url": database_url}), models)
    try:
        assert services.writes is not None
        assert services.conversations.writes is services.writes
    finally:
        services.close()


def test_a_typed_turn_commits_twice_and_its_reply_step_is_one_transaction(
    settings: Settings, models: Models, database_url: str, engine: Engine
) -> None:
    services = build_services(settings.model_copy(update={"database_url": database_url}), models)
    service, factory = services.conversations, services.session_factory
    conversation = chat_store.open_conversation(factory, None)[0].id
    commits = count_commits(services.engine)

    async def typed_turn(client_id: str, text: str) -> tuple[Message, Answered]:
        thinking = service.start_thinking(text)
        try:
            stored, _ = await service.store_customer_message(conversation, client_id, text)
            return stored, await service.answer(stored, None, thinking)
        finally:
            service.forget(thinking)

    try:
        stored, answered = asyncio.run(typed_turn("first", "where is my parcel"))
        assert commits[0] == 2  # the message before its ack; status, reply, predictions together
        assert answered.created and answered.reply is not None
        assert (answered.reply.reply_to_id, answered.reply.seq) == (stored.id, stored.seq + 1)
        retried, again = asyncio.run(typed_turn("first", "where is my parcel"))
        assert retried.id == stored.id and not again.created
        assert again.reply is not None and again.reply.id == answered.reply.id
        chat_store.set_status(factory, conversation, "agent")
        held, silent = asyncio.run(typed_turn("second", "hello?"))
        assert silent == Answered(None, created=False)
    finally:
        services.close()
    with factory() as session:
        rows = session.execute(select(Message.seq, Message.role).order_by(Message.seq)).all()
        shadow = session.scalars(select(Prediction.shadow).where(Prediction.message_id == held.id)).all()
    assert [tuple(row) for row in rows] == [(1, "user"), (2, "bot"), (3, "user")]
    assert shadow == [True]
