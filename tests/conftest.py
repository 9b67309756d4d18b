"""Shared fixtures: settings -> create_app -> client, on SQLite and on a real PostgreSQL.

The shipped adapter and the knowledge index are loaded once per session and shared by every
app the tests build, so each test pays only for its own database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.app import create_app  # noqa: E402
from bot.config import PROJECT_ROOT, Settings, sqlalchemy_url  # noqa: E402
from bot.services import Models, load_models  # noqa: E402

POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def base_settings(state_dir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{state_dir / 'unused.sqlite3'}",
        data_dir=PROJECT_ROOT / "data",
        state_dir=state_dir,
        adapter_dir=PROJECT_ROOT / "adapters",
        device="cpu",
        # Tests of canned replies ask about parcels; the order lookup's tests turn actions on.
        business_actions=False,
    )


@pytest.fixture(scope="session")
def models(base_settings: Settings) -> Models:
    return load_models(base_settings)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server; unreachable fails in CI and skips only on a developer machine."""
    try:
        engine = create_engine(sqlalchemy_url(POSTGRES_URL))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any connection failure means "no server"
        if IN_CI:
            raise RuntimeError(f"PostgreSQL at {POSTGRES_URL} is required in CI: {error}") from error
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sqlalchemy_url(postgres_server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(base_settings: Settings, sqlite_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": sqlite_url})


@pytest.fixture
def client(settings: Settings, models: Models) -> Iterator[TestClient]:
    with TestClient(create_app(settings, models)) as test_client:
        yield test_client


REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The Redis server; unreachable fails in CI and skips only on a developer machine."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as error:  # noqa: BLE001 - any connection failure means "no server"
        if IN_CI:
            raise RuntimeError(f"Redis at {REDIS_URL} is required in CI: {error}") from error
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """A key and channel namespace of one test's own (BOT_REDIS_PREFIX), deleted afterwards."""
    prefix = f"bot-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_redis_prefix(redis_server_url, prefix)


def delete_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
