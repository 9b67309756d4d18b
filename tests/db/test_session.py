"""SQLite under concurrent chat traffic: writers queue on the process lock, never on SQLite."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import chat_store
from bot.db.migrate import upgrade
from bot.db.models import Conversation, Message
from bot.db.session import create_db_engine, create_session_factory

WAIT_S = 10.0


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return create_session_factory(engine)


def test_concurrent_writers_all_commit_with_distinct_numbers(factory: sessionmaker[Session]) -> None:
    conversation, _ = chat_store.open_conversation(factory, None)

    def store(number: int) -> int:
        message, _ = chat_store.add_customer_message(factory, conversation.id, f"c{number}", "hello")
        return message.seq

    with ThreadPoolExecutor(max_workers=16) as pool:
        seqs = list(pool.map(store, range(200), timeout=60))
    assert sorted(seqs) == list(range(1, 201))


def test_a_failed_write_lets_the_next_writer_in(factory: sessionmaker[Session]) -> None:
    conversation, _ = chat_store.open_conversation(factory, None)
    first, _ = chat_store.add_customer_message(factory, conversation.id, "c1", "hello")
    with factory() as session, pytest.raises(IntegrityError):
        session.add(Message(conversation_id=conversation.id, seq=first.seq, role="user", text="twin"))
        session.commit()
    finished = threading.Event()

    def write() -> None:
        chat_store.add_customer_message(factory, conversation.id, "c2", "again")
        finished.set()

    threading.Thread(target=write, daemon=True).start()
    assert finished.wait(WAIT_S)


def test_readers_pass_an_open_write_and_writers_wait_for_its_commit(factory: sessionmaker[Session]) -> None:
    conversation, _ = chat_store.open_conversation(factory, None)
    second_wrote = threading.Event()

    def second_writer() -> None:
        chat_store.add_customer_message(factory, conversation.id, "late", "hello")
        second_wrote.set()

    with factory() as holder:
        holder.execute(
            update(Conversation).where(Conversation.id == conversation.id).values(status="waiting")
        )
        started = time.perf_counter()
        assert chat_store.get_conversation(factory, conversation.id).status == "bot"
        assert time.perf_counter() - started < WAIT_S / 2
        threading.Thread(target=second_writer, daemon=True).start()
        assert not second_wrote.wait(0.3)
        holder.commit()
    assert second_wrote.wait(WAIT_S)
    with factory() as session:
        assert (
            session.scalar(select(Conversation.status).where(Conversation.id == conversation.id)) == "waiting"
        )


@pytest.mark.parametrize(("setting", "pragma"), [("full", 2), ("normal", 1)])
def test_sqlite_durability_follows_the_setting(sqlite_url: str, setting: str, pragma: int) -> None:
    engine = create_db_engine(sqlite_url, sqlite_synchronous=setting)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_an_unknown_durability_setting_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="full or normal"):
        create_db_engine(sqlite_url, sqlite_synchronous="off")
