"""The one settings class: documented fields, BOT_ environment variables, database drivers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import PROJECT_ROOT, Settings, sqlalchemy_url
from bot.db.session import create_db_engine


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BOT_ variable or .env file of the developer's may leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_description(name: str) -> None:
    description = Settings.model_fields[name].description
    assert description and len(description.strip()) >= 10, f"Settings.{name} needs a description"


# Read by the `bot` command before any setting: BOT_DEBUG shows the traceback of an invalid setting too.
COMMAND_VARIABLES = {"debug"}


def test_every_variable_in_the_readme_is_a_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = {name.removeprefix("BOT_").lower() for name in re.findall(r"\bBOT_[A-Z_]*[A-Z]\b", readme)}
    assert documented, "the README documents the main settings"
    assert documented - COMMAND_VARIABLES <= set(Settings.model_fields)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/bot.sqlite3", "sqlite:///var/bot.sqlite3"),
        ("postgresql://bot@db.example:5432/bot", "postgresql+psycopg://bot@db.example:5432/bot"),
        ("postgres://bot:pw@db.example/bot", "postgresql+psycopg://bot:pw@db.example/bot"),
        ("postgresql+psycopg://bot@db/bot", "postgresql+psycopg://bot@db/bot"),
    ],
)
def test_plain_database_urls_get_the_right_driver(url: str, expected: str) -> None:
    assert sqlalchemy_url(url) == expected
    assert Settings(database_url=url).sqlalchemy_url == expected


@pytest.mark.parametrize(
    ("url", "dialect", "driver"),
    [
        ("sqlite:///{tmp}/bot.sqlite3", "sqlite", "pysqlite"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql", "psycopg"),
    ],
)
def test_engine_uses_the_driver_for_the_url(tmp_path: Path, url: str, dialect: str, driver: str) -> None:
    engine = create_db_engine(url.format(tmp=tmp_path))
    try:
        assert (engine.dialect.name, engine.dialect.driver) == (dialect, driver)
    finally:
        engine.dispose()


def test_settings_are_read_from_bot_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", "postgresql://bot@db/bot")
    monkeypatch.setenv("BOT_CONFIDENCE_THRESHOLD", "0.7")
    monkeypatch.setenv("BOT_MAX_MESSAGE_CHARS", "500")
    settings = Settings()
    assert settings.database_url == "postgresql://bot@db/bot"
    assert settings.confidence_threshold == 0.7
    assert settings.max_message_chars == 500


def test_settings_are_read_from_a_dotenv_file() -> None:
    Path(".env").write_text("BOT_ADAPTER_NAME=mine\n", encoding="utf-8")
    assert Settings().adapter_name == "mine"


def test_empty_optional_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_ADAPTER_VERSION", "")
    monkeypatch.setenv("BOT_OUT_OF_SCOPE_THRESHOLD", "")
    settings = Settings()
    assert settings.adapter_version is None and settings.out_of_scope_threshold is None


def test_defaults_match_the_documented_limits() -> None:
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.max_message_chars == 4000
    assert settings.max_frame_bytes == 64 * 1024
    assert settings.adapter_dir == PROJECT_ROOT / "adapters"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("BOT_CONFIDENCE_THRESHOLD", "1.5"), ("BOT_MAX_MESSAGE_CHARS", "0"), ("BOT_MAX_FRAME_BYTES", "lots")],
)
def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("BOT_").lower()):
        Settings()
