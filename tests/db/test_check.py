"""BOT_DATABASE_URL is checked before use: each wrong URL gets one line naming the setting."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from bot.db.check import ACCEPTED, DatabaseUnreachable, DatabaseUrlInvalid, check_database, parse_database_url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://x", "BOT_DATABASE_URL: mysql:// databases are not supported; use "),
        ("notaurl", "BOT_DATABASE_URL: 'notaurl' is not a database URL; use "),
        ("", "BOT_DATABASE_URL: '' is not a database URL; use "),
        (
            "postgresql+psycopg2://u@h/db",
            "BOT_DATABASE_URL: postgresql+psycopg2:// databases are not supported",
        ),
        ("postgresql://u@h:abc/db", "BOT_DATABASE_URL: 'postgresql://u@h:abc/db' is malformed ("),
    ],
)
def test_a_url_the_package_cannot_use_is_refused_in_one_line_saying_what_is_accepted(
    url: str, problem: str
) -> None:
    with pytest.raises(DatabaseUrlInvalid) as refused:
        parse_database_url(url)
    message = str(refused.value)
    assert message.startswith(problem) and message.endswith(ACCEPTED)
    assert "\n" not in message


def test_a_malformed_url_is_shown_without_its_password() -> None:
    with pytest.raises(DatabaseUrlInvalid) as refused:
        parse_database_url("postgresql://bot:s3cret@db:port/bot")
    assert "s3cret" not in str(refused.value) and "'postgresql://bot:***@db:port/bot'" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/bot.sqlite3",
        "sqlite://",
        "postgresql://u@h/db",
        "postgres://u@h/db",
        "postgresql+psycopg://h/d",
    ],
)
def test_the_documented_forms_are_accepted(url: str) -> None:
    assert parse_database_url(url).get_backend_name() in {"sqlite", "postgresql"}


def test_an_unreachable_server_is_a_runtime_failure_naming_the_setting_and_hiding_the_password() -> None:
    with pytest.raises(DatabaseUnreachable) as failed:
        check_database("postgresql://bot:s3cret@127.0.0.1:1/bot")
    message = str(failed.value)
    assert message.startswith(
        "BOT_DATABASE_URL: cannot connect to the database bot at 127.0.0.1:1 within 10 s ("
    )
    assert "Connection refused" in message and "s3cret" not in message and "\n" not in message


def test_a_server_that_accepts_but_never_answers_is_given_up_on_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable, match=r"within 2 s \(connection timeout expired\)"):
            check_database(f"postgresql://bot@127.0.0.1:{port}/bot", timeout_s=2)
    assert time.monotonic() - started < 2 + 5


def test_a_sqlite_path_under_a_file_is_a_runtime_failure(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(
        DatabaseUnreachable, match=r"^BOT_DATABASE_URL: cannot open the SQLite file .*file/bot"
    ):
        check_database(f"sqlite:///{tmp_path / 'file' / 'bot.sqlite3'}")


def test_a_reachable_database_passes_the_check(sqlite_url: str, postgres_url: str) -> None:
    check_database(sqlite_url)
    check_database(postgres_url)
