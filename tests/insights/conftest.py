"""The insights tests' database: migrated (triggers included), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.databases import migrated


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    yield from migrated(database_url)


@pytest.fixture
def postgres_factory(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    """For what only PostgreSQL has: TRUNCATE, and writers that run beside each other."""
    yield from migrated(postgres_url)
