"""Fixtures of the API tests: the app on both databases, cheap staff passwords."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.services import Models
from tests.staff.support import cheap_passwords  # noqa: F401 - re-exported fixture


@pytest.fixture
def db_client(settings: Settings, models: Models, database_url: str) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL in turn."""
    with TestClient(create_app(settings.model_copy(update={"database_url": database_url}), models)) as c:
        yield c
