"""Staff login sessions: a random cookie value (stored hashed), a CSRF token and an expiry."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.chat_store import hash_token
from bot.db.models import StaffSession, StaffUser, as_utc, utcnow
from bot.staff.accounts import StaffIdentity, identity


@dataclass(frozen=True)
class SessionInfo:
    id: int
    user: StaffIdentity
    csrf_token: str
    expires_at: dt.datetime


def start_session(
    factory: sessionmaker[Session], user_id: int, lifetime: dt.timedelta
) -> tuple[str, SessionInfo]:
    """A new session for the user; returns the cookie value (shown once) and the session."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with factory() as session:
        # Logging in is a good moment to sweep sessions that nobody will use again.
        session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        user = session.get(StaffUser, user_id)
        if user is None or not user.active:
            raise ValueError("the account is not active")
        row = StaffSession(
            token_hash=hash_token(token),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
        )
        session.add(row)
        session.commit()
        return token, _info(row, user)


def session_for_token(factory: sessionmaker[Session], token: str) -> SessionInfo | None:
    """The live session behind a cookie value; None when unknown, expired or the account is off."""
    if not token or len(token) > 200:
        return None
    with factory() as session:
        row = session.scalar(select(StaffSession).where(StaffSession.token_hash == hash_token(token)))
        return _live(session, row)


def session_by_id(factory: sessionmaker[Session], session_id: int) -> SessionInfo | None:
    with factory() as session:
        return _live(session, session.get(StaffSession, session_id))


def end_session(factory: sessionmaker[Session], session_id: int) -> None:
    with factory() as session:
        session.execute(delete(StaffSession).where(StaffSession.id == session_id))
        session.commit()


def _live(session: Session, row: StaffSession | None) -> SessionInfo | None:
    if row is None:
        return None
    if as_utc(row.expires_at) <= utcnow():
        session.delete(row)
        session.commit()
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return _info(row, user)


def _info(row: StaffSession, user: StaffUser) -> SessionInfo:
    return SessionInfo(row.id, identity(user), row.csrf_token, as_utc(row.expires_at))
