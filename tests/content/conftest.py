"""A migrated database for content tests, once SQLite and once PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.databases import migrated


@pytest.fixture
def db_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    yield from migrated(database_url)
