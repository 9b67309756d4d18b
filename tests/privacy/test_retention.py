"""Retention: exactly the conversations older than the limit go; labelled turns may stay redacted;
one process a day runs the purge."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.config import Settings
from bot.db.models import (
    AdapterTrainingTurn,
    AdapterVersion,
    Conversation,
    ErasureRecord,
    Message,
    RetainedTrainingTurn,
)
from bot.learning.round_data import staff_labelled_turns
from bot.privacy.retention import RetentionWorker, finish_lease, purge_older_than, take_lease
from bot.services import Models
from tests.privacy.support import migrated_factory, rows_containing, seed_conversation

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
LIMIT = dt.timedelta(days=30)


def test_purge_erases_exactly_what_is_older_than_the_limit(database_url: str) -> None:
    factory = migrated_factory(database_url)
    second = dt.timedelta(seconds=1)
    older, _ = seed_conversation(factory, ["older by a second"], at=NOW - LIMIT - second)
    younger, _ = seed_conversation(factory, ["younger by a second"], at=NOW - LIMIT + second)
    revived, _ = seed_conversation(factory, ["started long ago"], at=NOW - 3 * LIMIT)
    seed_more(factory, revived, "and came back yesterday", NOW - dt.timedelta(days=1))

    result = purge_older_than(factory, 30, state_dir=None, keep_labelled_redacted=False, now=NOW)

    with factory() as session:
        left = set(session.scalars(select(Conversation.id)))
        record = session.scalars(select(ErasureRecord)).one()
    assert left == {younger, revived} and older not in left
    assert (result.conversations, result.messages, result.retained_turns) == (1, 2, 0)
    assert (record.reason, record.conversations) == ("retention", 1)


def seed_more(factory: sessionmaker[Session], conversation_id: str, text: str, at: dt.datetime) -> None:
    with factory() as session, session.begin():
        session.add(Message(conversation_id=conversation_id, seq=99, role="user", text=text, created_at=at))


def test_labelled_turns_can_stay_for_training_in_redacted_form_only(tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    _, [turn_id] = seed_conversation(factory, ["refund to jo.ng@example.com please"], at=NOW - 2 * LIMIT)
    seed_conversation(factory, ["unlabelled and old"], at=NOW - 2 * LIMIT, staff_label=None)
    with factory() as session, session.begin():
        session.add(AdapterVersion(id="default/v9", name="default", version="v9", path="x", metrics={}))
        session.flush()
        session.add(AdapterTrainingTurn(adapter_id="default/v9", message_id=turn_id))

    result = purge_older_than(factory, 30, state_dir=None, keep_labelled_redacted=True, now=NOW)

    assert (result.conversations, result.retained_turns) == (2, 1)
    assert rows_containing(factory, "jo.ng@example.com") == []
    assert rows_containing(factory, "unlabelled and old") == []
    with factory() as session:
        kept = session.scalars(select(RetainedTrainingTurn)).one()
        version = session.get(AdapterVersion, "default/v9")
    assert (kept.message_id, kept.text, kept.intent) == (turn_id, "refund to [EMAIL] please", "track_order")
    assert version is not None and version.erased_turns == 0  # aged out, not taken back
    [turn] = staff_labelled_turns(factory)
    assert (turn.message_id, turn.text) == (turn_id, "refund to [EMAIL] please")


def test_one_process_a_day_takes_the_purge(tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    assert take_lease(factory, "a", NOW)
    assert not take_lease(factory, "b", NOW)  # a holds it
    finish_lease(factory, "a", ran=True, started_at=NOW)
    assert not take_lease(factory, "b", NOW + dt.timedelta(hours=23))  # ran less than a day ago
    assert take_lease(factory, "b", NOW + dt.timedelta(days=1, minutes=1))
    # b crashes without finishing; its lease runs out after an hour.
    assert not take_lease(factory, "c", NOW + dt.timedelta(days=1, minutes=30))
    assert take_lease(factory, "c", NOW + dt.timedelta(days=1, hours=2))


def test_the_server_worker_purges_and_a_second_process_does_not(tmp_path: Path) -> None:
    factory = migrated_factory(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    seed_conversation(factory, ["very old"], at=dt.datetime.now(dt.UTC) - 2 * LIMIT)
    first = RetentionWorker(factory, 30, tmp_path, keep_labelled_redacted=False)
    second = RetentionWorker(factory, 30, tmp_path, keep_labelled_redacted=False)

    result = first.run_once("server-1")

    assert result is not None and result.conversations == 1
    assert second.run_once("server-2") is None
    assert rows_containing(factory, "very old") == []


def test_a_server_with_a_retention_period_purges_on_its_own(
    base_settings: Settings, models: Models, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    factory = migrated_factory(url)
    seed_conversation(factory, ["from last year"], at=dt.datetime.now(dt.UTC) - 12 * LIMIT)
    seed_conversation(factory, ["from this morning"])
    settings = base_settings.model_copy(update={"database_url": url, "retention_days": 30})

    with TestClient(create_app(settings, models)):
        deadline = time.monotonic() + 20
        while rows_containing(factory, "from last year") and time.monotonic() < deadline:
            time.sleep(0.2)

    assert rows_containing(factory, "from last year") == []
    assert rows_containing(factory, "from this morning")
