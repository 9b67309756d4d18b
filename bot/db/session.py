"""Engine and session factory for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.config import sqlalchemy_url

# Chat work runs in anyio's worker threads (40 by default), each holding one connection at a time;
# a smaller pool would close and reopen its overflow connections on every busy second.
SQLITE_POOL_SIZE = 40
SQLITE_BUSY_TIMEOUT_S = 30.0
_WRITE_LOCK_KEY = "bot_holds_write_lock"
_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def create_db_engine(database_url: str, *, sqlite_synchronous: str = "full") -> Engine:
    """An engine for ``database_url``; ``sqlite_synchronous`` is SQLite's durability setting
    (``full``: every commit reaches the disk before it returns)."""
    if sqlite_synchronous not in ("full", "normal"):
        raise ValueError(f"sqlite_synchronous must be full or normal, not {sqlite_synchronous!r}")
    url = make_url(sqlalchemy_url(database_url))
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if url.database and url.database != ":memory:":
        create_private_file(Path(url.database))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=10,
    )
    event.listen(engine, "connect", functools.partial(_configure_sqlite, synchronous=sqlite_synchronous))
    _serialize_writes(engine)
    return engine


def create_private_file(path: Path) -> None:
    """Create the database file readable by the service user only (0600), in a folder of its own
    (0700) when the folder is new: it holds what customers typed. SQLite gives its -wal and
    -shm files the database file's permissions. Existing files and folders are left as they are."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _serialize_writes(engine: Engine) -> None:
    """Let one write transaction of this process at a time reach SQLite.

    SQLite admits one writer; the others wait in its busy handler, which sleeps in growing
    steps (up to 100 ms) and admits whoever retries first, so under load a few writers starve
    for seconds (measured: p99 of a chat turn 15 s at 40 threads). Waiting on a lock instead
    hands the database over the moment the writer finishes. The lock is taken at the first
    write statement, which is where SQLite's own write transaction starts, and given back when
    the connection returns to the pool, after its commit or rollback.
    """
    lock = threading.Lock()

    def before_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = connection.connection.record_info
        if info is None or info.get(_WRITE_LOCK_KEY) or not _is_write(statement):
            return
        if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked")
        info[_WRITE_LOCK_KEY] = True

    def release(_dbapi_connection: Any, record: Any) -> None:
        if record.record_info.pop(_WRITE_LOCK_KEY, False):
            lock.release()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine.pool, "checkin", release)


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:6].upper() in _WRITE_STATEMENTS


def _configure_sqlite(dbapi_connection: Any, _record: Any, *, synchronous: str) -> None:
    # WAL lets readers (the console, exports) run while the chat writes; foreign keys are off
    # by default in SQLite and the schema relies on them. secure_delete overwrites deleted
    # rows with zeros, so an erased conversation leaves no words in free pages.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")  # checked: full or normal
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
