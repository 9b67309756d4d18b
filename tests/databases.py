"""Migrated test databases, for the fixtures of several test folders."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session, sessionmaker

from bot.db.migrate import upgrade
from bot.db.session import create_db_engine, create_session_factory


def migrated(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on ``database_url`` after every migration (triggers included), for a
    fixture to yield from; its engine is disposed afterwards."""
    upgrade(database_url)
    engine = create_db_engine(database_url)
    yield create_session_factory(engine)
    engine.dispose()
