"""``bot users`` and ``bot labels``: passwords never echoed, bad input refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.db import chat_store
from bot.db.models import Label
from bot.staff import accounts
from tests.staff.support import PASSWORD, new_conversation, seed_turn


@pytest.fixture
def database(
    sqlite_url: str, sqlite_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> sessionmaker[Session]:
    """The CLI's database (through BOT_DATABASE_URL) and a session factory on it."""
    monkeypatch.setenv("BOT_DATABASE_URL", sqlite_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return sqlite_factory


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.output


def test_users_create_reads_the_password_from_stdin_and_never_prints_it(
    database: sessionmaker[Session],
) -> None:
    code, output = run(
        "users", "create", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, output
    assert PASSWORD not in output
    user = accounts.authenticate(database, "root", PASSWORD)
    assert user is not None and user.role == "admin"


def test_users_create_prompts_twice_when_no_stdin_flag(database: sessionmaker[Session]) -> None:
    code, output = run("users", "create", "ann", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, output
    assert PASSWORD not in output
    assert accounts.authenticate(database, "ann", PASSWORD) is not None


def test_users_create_refuses_a_weak_password(database: sessionmaker[Session]) -> None:
    code, output = run("users", "create", "ann", "--password-stdin", stdin="short\n")
    assert code == 1
    assert "at least 10 characters" in output
    assert accounts.list_users(database) == []


def test_set_password_and_disable(database: sessionmaker[Session]) -> None:
    run("users", "create", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    code, _ = run("users", "set-password", "ann", "--password-stdin", stdin="a brand new password\n")
    assert code == 0
    assert accounts.authenticate(database, "ann", "a brand new password") is not None
    code, _ = run("users", "disable", "ann")
    assert code == 0
    assert accounts.authenticate(database, "ann", "a brand new password") is None
    code, output = run("users", "disable", "nobody")
    assert code == 1 and "no staff account named 'nobody'" in output


def test_labels_set_records_a_staff_label(database: sessionmaker[Session]) -> None:
    run("users", "create", "olga", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    customer, bot = seed_turn(database, new_conversation(database), "where is my parcel")
    code, output = run("labels", "set", str(customer.id), "cancel_order", "--by", "olga")
    assert code == 0, output
    code, output = run("labels", "set", str(customer.id), "not_an_intent", "--by", "olga")
    assert code == 1 and "propose it" in output
    code, output = run("labels", "set", str(bot.id), "cancel_order", "--by", "olga")
    assert code == 1 and "only customer messages" in output
    code, output = run("labels", "set", str(customer.id), "cancel_order", "--by", "mallory")
    assert code == 1 and "no active staff account" in output
    with database() as session:
        labels = session.scalars(select(Label)).all()
    assert [(label.intent, label.source, label.created_by) for label in labels] == [
        ("cancel_order", "staff", "olga")
    ]
    assert chat_store.get_conversation(database, customer.conversation_id).status == "bot"
