"""Staff accounts: create, authenticate, change password, role or active state.

Each function is one short transaction. Changing a password, disabling an account or
changing its role ends the account's sessions, so nothing keeps the old rights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import StaffSession, StaffUser
from bot.errors import Conflict, InvalidInput, NotFound
from bot.staff import passwords
from bot.staff.roles import ROLES, is_role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MAX_DISPLAY_NAME = 100


@dataclass(frozen=True)
class StaffIdentity:
    """Who is acting: what routes, sockets and labels need to know about a staff member."""

    id: int
    username: str
    display_name: str
    role: str


def identity(user: StaffUser) -> StaffIdentity:
    return StaffIdentity(user.id, user.username, user.display_name, user.role)


def create_user(
    factory: sessionmaker[Session],
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
) -> StaffIdentity:
    _check_username(username)
    _check_role(role)
    name = _display_name(display_name or username)
    password_hash = _hash(password)
    with factory() as session:
        user = StaffUser(
            username=username, display_name=name, role=role, password_hash=password_hash, active=True
        )
        session.add(user)
        try:
            session.commit()
        except IntegrityError as error:
            raise Conflict("username_taken", f"the username {username!r} is taken") from error
        return identity(user)


def authenticate(factory: sessionmaker[Session], username: str, password: str) -> StaffIdentity | None:
    """The active account with this username and password, or None (same time either way)."""
    with factory() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None or not user.active:
            passwords.spend_verification_time(password)
            return None
        if not passwords.verify_password(user.password_hash, password):
            return None
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
            session.commit()
        return identity(user)


def set_password(factory: sessionmaker[Session], username: str, password: str) -> StaffIdentity:
    password_hash = _hash(password)
    with factory() as session:
        user = _user(session, username)
        user.password_hash = password_hash
        _end_sessions(session, user.id)
        session.commit()
        return identity(user)


def set_active(factory: sessionmaker[Session], username: str, active: bool) -> StaffIdentity:
    with factory() as session:
        user = _user(session, username)
        if not active:
            _keep_an_admin(session, user)
            _end_sessions(session, user.id)
        user.active = active
        session.commit()
        return identity(user)


def set_role(factory: sessionmaker[Session], username: str, role: str) -> StaffIdentity:
    _check_role(role)
    with factory() as session:
        user = _user(session, username)
        if role != user.role:
            if role != "admin":
                _keep_an_admin(session, user)
            user.role = role
            _end_sessions(session, user.id)
            session.commit()
        return identity(user)


def set_display_name(factory: sessionmaker[Session], username: str, display_name: str) -> StaffIdentity:
    name = _display_name(display_name)
    with factory() as session:
        user = _user(session, username)
        user.display_name = name
        session.commit()
        return identity(user)


def find_user(factory: sessionmaker[Session], username: str) -> StaffUser | None:
    with factory() as session:
        return session.scalar(select(StaffUser).where(StaffUser.username == username))


def list_users(factory: sessionmaker[Session]) -> list[StaffUser]:
    with factory() as session:
        return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def _user(session: Session, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise NotFound("unknown_user", f"no staff account named {username!r}")
    return user


def _keep_an_admin(session: Session, user: StaffUser) -> None:
    """Refuse to disable or demote the last active admin: nobody could manage accounts then."""
    if user.role != "admin" or not user.active:
        return
    admins = session.scalar(
        select(func.count()).select_from(StaffUser).where(StaffUser.role == "admin", StaffUser.active)
    )
    if (admins or 0) <= 1:
        raise Conflict("last_admin", "this is the last active admin account")


def _end_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


def _hash(password: str) -> str:
    try:
        return passwords.hash_password(password)
    except passwords.PasswordPolicyError as error:
        raise InvalidInput("weak_password", str(error)) from error


def _check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise InvalidInput(
            "invalid_username",
            "a username has 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )


def _check_role(role: str) -> None:
    if not is_role(role):
        raise InvalidInput("invalid_role", f"the role must be one of {', '.join(ROLES)}")


def _display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput("invalid_display_name", f"a display name has 1-{MAX_DISPLAY_NAME} characters")
    return name
