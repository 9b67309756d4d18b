"""BOT_DATABASE_URL checked before anything uses it: one clear line instead of a driver's traceback.

Unchecked, ``mysql://`` ended in a 57-line ``ModuleNotFoundError: MySQLdb``, ``notaurl`` in an
SQLAlchemy ``ArgumentError`` and an unreachable PostgreSQL in 143 lines. A wrong setting is the
user's to fix (:class:`DatabaseUrlInvalid`); a server that does not answer is a failure at run
time (:class:`DatabaseUnreachable`). Both messages name the setting and what it accepts.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from bot.config import sqlalchemy_url

SETTING = "BOT_DATABASE_URL"
ACCEPTED = "sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/database"
CONNECT_TIMEOUT_S = 10
# The drivers installed with the package: sqlite3 from Python, psycopg 3 from the dependencies.
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


class DatabaseUrlInvalid(ValueError):
    """The setting itself is wrong: not a URL, or a database this package has no driver for."""


class DatabaseUnreachable(RuntimeError):
    """The setting is well formed but no database answers there."""


def parse_database_url(database_url: str) -> URL:
    """The SQLAlchemy URL of ``database_url``, or :class:`DatabaseUrlInvalid` saying why not."""
    scheme, separator, _ = database_url.partition("://")
    if not separator or not scheme:
        raise DatabaseUrlInvalid(f"{SETTING}: {_shown(database_url)} is not a database URL; use {ACCEPTED}")
    if scheme.lower() not in SUPPORTED_SCHEMES:
        raise DatabaseUrlInvalid(f"{SETTING}: {scheme}:// databases are not supported; use {ACCEPTED}")
    try:
        return make_url(sqlalchemy_url(database_url))
    except (ArgumentError, ValueError) as error:
        raise DatabaseUrlInvalid(
            f"{SETTING}: {_shown(database_url)} is malformed ({error}); use {ACCEPTED}"
        ) from error


def check_database(database_url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Parse ``database_url`` and open one connection to it, giving up after ``timeout_s``."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite(url)
        return
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": max(1, int(timeout_s))})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        raise DatabaseUnreachable(
            f"{SETTING}: cannot connect to the database {url.database or '(default)'} at {where} "
            f"within {timeout_s:g} s ({_first_line(error.orig)}); start the server or correct the "
            f"URL ({ACCEPTED})"
        ) from error
    finally:
        engine.dispose()


def _check_sqlite(url: URL) -> None:
    from bot.db.session import create_db_engine

    try:
        # Creates the file's folder, as the server would.
        engine = create_db_engine(url.render_as_string(hide_password=False))
    except OSError as error:
        raise _sqlite_unreachable(url, error) from error
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        raise _sqlite_unreachable(url, error.orig) from error
    finally:
        engine.dispose()


def _sqlite_unreachable(url: URL, cause: BaseException | None) -> DatabaseUnreachable:
    return DatabaseUnreachable(
        f"{SETTING}: cannot open the SQLite file {url.database} ({_first_line(cause)}); "
        f"use a writable path ({ACCEPTED})"
    )


def _shown(database_url: str) -> str:
    """The URL as it may appear in a message: a password never does."""
    scheme, separator, rest = database_url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if separator and at and ":" in credentials:
        rest = f"{credentials.split(':', 1)[0]}:***@{location}"
    return repr(f"{scheme}{separator}{rest}" if separator else database_url)


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
