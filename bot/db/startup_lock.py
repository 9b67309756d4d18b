"""One process at a time through start-up's database work, when several start together.

``bot serve --workers N`` (or N hosts rolled out at once) on an empty PostgreSQL database would
otherwise run the migrations, register the adapters and seed the content N times concurrently,
and all but one would fail on the tables or rows the first one created. A PostgreSQL session
advisory lock serialises that work: the others wait, then find it done. The lock belongs to a
connection, so a process that dies while holding it releases it with its connection. SQLite
serves one process: nothing to take.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.config import sqlalchemy_url

# Any fixed 64-bit number used for nothing else in the database.
STARTUP_LOCK_KEY = 7_310_516_017


@contextmanager
def startup_lock(database_url: str) -> Iterator[None]:
    url = sqlalchemy_url(database_url)
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()
