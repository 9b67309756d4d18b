"""Erasure: the customer's words leave every table, the SQLite files and the round folders;
adapters trained on them are marked; an audit record says who erased how many, never what."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.config import PROJECT_ROOT
from bot.db.models import AdapterEvent, AdapterVersion, Base, Conversation, ErasureRecord, Message
from bot.intents import registry, store
from bot.learning.round_data import TURNS_FILE, LabelledTurn, build_round, staff_labelled_turns
from bot.privacy.erasure import UNLINKED_BY_MESSAGE, clear_free_space, erase_conversations, erased_tables
from tests.privacy.support import migrated_factory, rows_containing, seed_conversation

SECRET = "quokka-zanzibar-7731"
WORDS = [f"my parcel {SECRET} never came", f"write to ann.{SECRET}@example.org please"]


def test_erasure_leaves_no_row_with_the_customers_words(database_url: str) -> None:
    factory = migrated_factory(database_url)
    erased, _ = seed_conversation(factory, WORDS)
    kept, _ = seed_conversation(factory, ["where is order NW-10042?"])
    assert rows_containing(factory, SECRET)  # the check below can fail

    result = erase_conversations(factory, [erased, "no-such-id"], actor="admin:ann")

    assert rows_containing(factory, SECRET) == []
    assert (result.conversations, result.messages) == (1, 4)
    with factory() as session:
        assert session.get(Conversation, erased) is None
        assert session.get(Conversation, kept) is not None
        assert len(session.scalars(select(Message).where(Message.conversation_id == kept)).all()) == 2
        record = session.scalars(select(ErasureRecord)).one()
    recorded = (record.actor, record.reason, record.conversations, record.messages)
    assert recorded == ("admin:ann", "request", 1, 4)
    assert erased not in repr(vars(record))  # how many, never which


def test_every_table_that_refers_to_conversations_or_messages_is_erased() -> None:
    """A new table keyed by a conversation or message must be covered, by foreign key or by name."""
    covered = {table.name for table in erased_tables()}
    covered |= {column.class_.__tablename__ for column in UNLINKED_BY_MESSAGE}
    for table in Base.metadata.tables.values():
        refers = any(fk.column.table.name in {"conversations", "messages"} for fk in table.foreign_keys)
        keyed = {"conversation_id", "message_id"} & set(table.columns.keys())
        if refers or keyed:
            assert table.name in covered, f"erasure does not cover {table.name}"
    assert {"messages", "predictions", "labels", "feedback", "csat_ratings"} <= covered


def test_sqlite_files_keep_no_byte_of_the_erased_words(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    factory = migrated_factory(url)
    conversation_id, _ = seed_conversation(factory, WORDS * 20)
    for _ in range(30):  # other customers' chat after it, so its pages are not the last ones
        seed_conversation(factory, ["where is my order NW-10042?"])
    files = [tmp_path / name for name in ("bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm")]
    assert any(SECRET.encode() in path.read_bytes() for path in files if path.exists())

    erase_conversations(factory, [conversation_id], actor="cli")

    for path in files:
        if path.exists():
            assert SECRET.encode() not in path.read_bytes(), path.name
    factory.kw["bind"].dispose()


def test_erasure_marks_the_adapter_versions_trained_on_its_turns(database_url: str, tmp_path: Path) -> None:
    factory = migrated_factory(database_url)
    conversation_id, turn_ids = seed_conversation(factory, WORDS)
    _, other_ids = seed_conversation(factory, ["where is my order?"])
    older = registry.register(factory, _version_folder(tmp_path, "v1"), trained_on=other_ids)
    trained = registry.register(factory, _version_folder(tmp_path, "v2"), trained_on=turn_ids + other_ids)

    result = erase_conversations(factory, [conversation_id], actor="cli")

    assert result.adapters_marked == [trained.id]
    rows = {row.id: registry.version_record(row) for row in registry.all_versions(factory)}
    assert rows[trained.id]["erased_turns"] == 2 and rows[trained.id]["erased_at"] is not None
    assert rows[older.id]["erased_turns"] == 0 and rows[older.id]["erased_at"] is None
    assert registry.trained_on(factory, trained.id) == other_ids
    # A version warm-started from the marked one carries its weights and so its mark.
    child = registry.register(factory, _version_folder(tmp_path, "v3"), warm_started_from=trained.id)
    assert registry.get(factory, child.id).erased_turns == 2
    assert registry.trained_on(factory, child.id) == other_ids


def test_the_next_round_leaves_erased_turns_out_and_old_round_folders_go(tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    conversation_id, turn_ids = seed_conversation(factory, WORDS)
    _, other_ids = seed_conversation(factory, ["my parcel never came"])
    rounds = tmp_path / "state" / "rounds"
    before = build_round(PROJECT_ROOT / "data", staff_labelled_turns(factory), set(), rounds / "r1")
    assert set(turn_ids) <= set(before.message_ids)
    assert json.loads((rounds / "r1" / TURNS_FILE).read_text()) == before.message_ids
    unrelated = build_round(PROJECT_ROOT / "data", _turns(other_ids), set(), rounds / "r2")
    legacy = build_round(PROJECT_ROOT / "data", staff_labelled_turns(factory), set(), rounds / "r3")
    (legacy.directory / TURNS_FILE).unlink()  # written before rounds listed their turns

    result = erase_conversations(factory, [conversation_id], actor="cli", state_dir=tmp_path / "state")

    assert result.round_folders_removed == 2
    assert sorted(path.name for path in rounds.iterdir()) == [unrelated.directory.name]
    after = build_round(PROJECT_ROOT / "data", staff_labelled_turns(factory), set(), rounds / "r4")
    assert set(after.message_ids) == set(other_ids)
    for path in (rounds / "r4").iterdir():
        assert SECRET not in path.read_text()


def test_gate_reports_on_disk_and_in_promotion_events_lose_their_quotes(tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    conversation_id, turn_ids = seed_conversation(factory, WORDS)
    job = tmp_path / "state" / "rounds" / "20261202-0001"
    data = build_round(PROJECT_ROOT / "data", staff_labelled_turns(factory), set(), job / "data")
    secret_turn = next(example for example in data.replay if SECRET in example.text)
    quoted = {"text": secret_turn.text, "label": "track_order", "production": "a", "candidate": "b"}
    report = {"held_out": {"changes": {"fixed": [quoted], "broken": []}}, "passed": True}
    (job / "status.json").write_text(json.dumps({"state": "done", "gate": report}))
    version = registry.register(factory, _version_folder(tmp_path, "v1"), trained_on=turn_ids)
    with factory() as session, session.begin():
        session.add(AdapterEvent(adapter_id=version.id, action="promote", actor="ann", report=report))

    result = erase_conversations(factory, [conversation_id], actor="cli", state_dir=tmp_path / "state")

    assert result.round_folders_removed == 1 and not (job / "data").exists()
    assert SECRET not in (job / "status.json").read_text()
    assert json.loads((job / "status.json").read_text())["state"] == "done"
    assert rows_containing(factory, SECRET) == []
    event = registry.events(factory, version.id)[0]
    assert event.report["held_out"]["changes"]["fixed"][0]["text"] == "[erased]"


def _turns(message_ids: list[int]) -> list[LabelledTurn]:
    at = dt.datetime.now(dt.UTC)
    return [LabelledTurn(i, "my parcel never came", "track_order", "ann", at) for i in message_ids]


def _version_folder(root: Path, version: str) -> store.AdapterRef:
    folder = root / "adapters" / "default" / version
    folder.mkdir(parents=True)
    (folder / "training.json").write_text("{}")
    return store.AdapterRef("default", version, folder)


@pytest.mark.parametrize("unknown", [[], ["not-a-conversation"]])
def test_erasing_nothing_still_records_who_asked(unknown: list[str], tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    result = erase_conversations(factory, unknown, actor="cli")
    assert (result.conversations, result.messages) == (0, 0)
    with factory() as session:
        assert session.scalars(select(AdapterVersion)).all() == []
        assert session.scalars(select(ErasureRecord.conversations)).all() == [0]


def test_postgresql_table_files_keep_no_byte_of_the_erased_words_after_a_rewrite(postgres_url: str) -> None:
    """Read each erased table's files (and its TOAST table's) through the server after erasure."""
    factory = migrated_factory(postgres_url)
    long_text = f"{SECRET} " + "x" * 5000  # stored out of line, in the TOAST table
    conversation_id, _ = seed_conversation(factory, [*WORDS, long_text])
    seed_conversation(factory, ["where is my order?"])
    assert any(SECRET.encode() in data for _, data in _table_files(factory))

    erase_conversations(factory, [conversation_id], actor="cli", rewrite_tables=True)

    # VACUUM keeps row versions that a transaction anywhere on the server may still see (other
    # test runs share it here; a pg_dump would in production): the next VACUUM removes them.
    for _ in range(20):
        holding = [name for name, data in _table_files(factory) if SECRET.encode() in data]
        if not holding:
            break
        time.sleep(0.5)
        clear_free_space(factory.kw["bind"], rewrite_tables=True)
    assert holding == []
    factory.kw["bind"].dispose()


def _table_files(factory: sessionmaker[Session]) -> list[tuple[str, bytes]]:
    files = []
    with factory() as session:
        session.execute(text("CHECKPOINT"))  # write dirty pages to the files read below
        for table in erased_tables():
            for relation in (table.name, _toast_of(session, table.name)):
                if relation:
                    path = session.scalar(text("SELECT pg_relation_filepath(:r)"), {"r": relation})
                    data = session.scalar(text("SELECT pg_read_binary_file(:p)"), {"p": path})
                    files.append((relation, data))
    return files


def _toast_of(session: Session, table: str) -> str | None:
    query = text("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = CAST(:t AS regclass)")
    toast = session.scalar(query, {"t": table})
    return None if toast in (None, "-") else str(toast)
