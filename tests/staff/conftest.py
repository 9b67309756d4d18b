"""Every staff test hashes passwords cheaply (see ``tests/staff/support.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.databases import migrated
from tests.staff.support import cheap_hashing


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def sqlite_factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database, for work that does not depend on the dialect."""
    yield from migrated(sqlite_url)


@pytest.fixture
def db_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated database, once SQLite and once PostgreSQL."""
    yield from migrated(database_url)
