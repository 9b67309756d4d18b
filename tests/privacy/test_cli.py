"""``bot conversations erase / purge / erasures / export --redact`` and the mark in ``bot adapters list``."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.db.models import AdapterTrainingTurn
from bot.intents import registry
from tests.privacy.support import migrated_factory, rows_containing, seed_conversation

SECRET = "wombat-harbour-5512"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'bot.sqlite3'}",
        "BOT_STATE_DIR": str(tmp_path / "state"),
        "BOT_ADAPTER_DIR": str(PROJECT_ROOT / "adapters"),
    }


def bot(env: dict[str, str], *args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=answer)


def test_erase_by_id_removes_the_conversation_and_says_how_much(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    erased, _ = seed_conversation(factory, [f"my parcel {SECRET} is lost"])
    kept, _ = seed_conversation(factory, ["where is my order?"])

    result = bot(env, "conversations", "erase", erased, "missing-id", "--yes")

    assert result.exit_code == 0, result.output
    assert "erased 1 conversations (2 messages)" in result.stdout
    assert "no conversation missing-id" in result.stderr
    assert rows_containing(factory, SECRET) == []
    assert rows_containing(factory, "where is my order?")
    exported = bot(env, "conversations", "export")
    assert SECRET not in exported.stdout and "where is my order?" in exported.stdout


def test_erase_by_email_asks_first_and_a_no_erases_nothing(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    mine, _ = seed_conversation(factory, ["hi", f"it is Jane.{SECRET}@Example.org"])
    seed_conversation(factory, [f"it is joJane.{SECRET}@example.org"])  # another address

    refused = bot(env, "conversations", "erase", "--email", f"jane.{SECRET}@example.org", answer="n\n")
    assert refused.exit_code == 1 and mine in refused.stderr
    assert len(rows_containing(factory, SECRET)) > 0

    done = bot(env, "conversations", "erase", "--email", f"JANE.{SECRET}@example.org", "--json", answer="y\n")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["conversations"] == 1
    assert all("joJane" in row or "jojane" in row.lower() for row in rows_containing(factory, SECRET))


def test_erase_by_phone_finds_the_number_however_it_was_written(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    national, _ = seed_conversation(factory, ["call me on 030 90182045 please"])
    international, _ = seed_conversation(factory, ["or +49 (0)30 9018-2045"])
    other, _ = seed_conversation(factory, ["my number is 030 90182046"])

    result = bot(env, "conversations", "erase", "--phone", "0049 30 90182045", "--yes", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["conversations"] == 2
    assert rows_containing(factory, "90182045") == [] and rows_containing(factory, "90182046")
    assert {national, international}.isdisjoint(result.stdout)  # ids go to stderr only
    assert other not in result.stderr


def test_erase_without_anything_to_erase_is_a_usage_error(env: dict[str, str]) -> None:
    assert bot(env, "conversations", "erase").exit_code == 2
    bad = bot(env, "conversations", "erase", "--phone", "12", "--yes")
    assert bad.exit_code == 1 and "not a phone number" in bad.output


def test_erasure_log_records_who_and_how_many_never_what(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    conversation_id, _ = seed_conversation(factory, [f"secret {SECRET}"])
    bot(env, "conversations", "erase", conversation_id, "--yes")

    result = bot(env, "conversations", "erasures", "--json")

    assert result.exit_code == 0, result.output
    [record] = json.loads(result.stdout)
    assert record["actor"].startswith("cli") and record["conversations"] == 1 and record["messages"] == 2
    assert SECRET not in result.stdout and conversation_id not in result.stdout


def test_adapters_list_marks_versions_trained_on_erased_turns(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    conversation_id, turn_ids = seed_conversation(factory, [f"secret {SECRET}", "more"])
    assert bot(env, "adapters", "list").exit_code == 0  # registers the shipped versions
    production = registry.production(factory)
    assert production is not None
    with factory() as session, session.begin():
        session.add_all(AdapterTrainingTurn(adapter_id=production.id, message_id=i) for i in turn_ids)

    bot(env, "conversations", "erase", conversation_id, "--yes")
    result = bot(env, "adapters", "list")

    line = next(line for line in result.stdout.splitlines() if line.startswith(production.id + " "))
    assert line.endswith("trained on 2 erased turns")
    assert sum("erased turns" in line for line in result.stdout.splitlines()) == 1


def test_purge_erases_exactly_the_conversations_older_than_the_limit(env: dict[str, str]) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    now = dt.datetime.now(dt.UTC)
    seed_conversation(factory, ["old one"], at=now - dt.timedelta(days=31))
    seed_conversation(factory, ["recent one"], at=now - dt.timedelta(days=29))

    result = bot(env, "conversations", "purge", "--older-than", "30", "--yes")

    assert result.exit_code == 0, result.output
    assert "erased 1 conversations" in result.stdout
    assert rows_containing(factory, "old one") == [] and rows_containing(factory, "recent one")
    assert bot(env, "conversations", "purge").exit_code == 2  # no days and no BOT_RETENTION_DAYS


def test_export_redact_writes_a_private_file_without_personal_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    factory = migrated_factory(env["BOT_DATABASE_URL"])
    seed_conversation(factory, ["mail me at kim.lee@example.com or call +44 20 7946 0321"])
    out = tmp_path / "export.jsonl"

    result = bot(env, "conversations", "export", "--redact", "--out", str(out))

    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "kim.lee@example.com" not in text and "7946 0321" not in text
    assert "mail me at [EMAIL] or call [PHONE]" in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    plain = bot(env, "conversations", "export")
    assert "kim.lee@example.com" in plain.stdout


def test_the_sqlite_database_and_its_folder_are_private(env: dict[str, str], tmp_path: Path) -> None:
    migrated_factory(env["BOT_DATABASE_URL"])
    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
    for name in ("bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm"):
        path = tmp_path / "db" / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
