"""Staff accounts: hashing, authentication, and the changes that must end sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import StaffUser
from bot.errors import Refusal
from bot.staff import accounts, passwords, sessions
from tests.staff.support import PASSWORD

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def factory(sqlite_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    # Plain single-row work: SQLite is enough; the racing and querying tests also run on PostgreSQL.
    return sqlite_factory


def test_password_is_stored_as_an_argon2id_hash(factory: sessionmaker[Session]) -> None:
    accounts.create_user(factory, "alice", PASSWORD, "agent")
    with factory() as session:
        stored = session.scalars(select(StaffUser)).one().password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_production_hasher_uses_the_library_recommended_parameters() -> None:
    passwords.use_hasher(PasswordHasher())
    stored = passwords.hash_password(PASSWORD)
    # RFC 9106 low-memory profile: 64 MiB, 3 passes, 4 lanes.
    assert "$m=65536,t=3,p=4$" in stored


def test_authenticate_accepts_the_right_password_only(factory: sessionmaker[Session]) -> None:
    accounts.create_user(factory, "alice", PASSWORD, "operator", "Alice A.")
    user = accounts.authenticate(factory, "alice", PASSWORD)
    assert user is not None and user.role == "operator" and user.display_name == "Alice A."
    assert accounts.authenticate(factory, "alice", PASSWORD + "x") is None
    assert accounts.authenticate(factory, "nobody", PASSWORD) is None


def test_disabled_account_cannot_log_in_and_loses_its_sessions(factory: sessionmaker[Session]) -> None:
    accounts.create_user(factory, "admin", PASSWORD, "admin")
    bob = accounts.create_user(factory, "bob", PASSWORD, "agent")
    token, _ = sessions.start_session(factory, bob.id, HOUR)
    accounts.set_active(factory, "bob", False)
    assert accounts.authenticate(factory, "bob", PASSWORD) is None
    assert sessions.session_for_token(factory, token) is None


def test_new_password_ends_existing_sessions(factory: sessionmaker[Session]) -> None:
    bob = accounts.create_user(factory, "bob", PASSWORD, "agent")
    token, _ = sessions.start_session(factory, bob.id, HOUR)
    accounts.set_password(factory, "bob", "another long password")
    assert sessions.session_for_token(factory, token) is None
    assert accounts.authenticate(factory, "bob", "another long password") is not None


def test_last_active_admin_cannot_be_disabled_or_demoted(factory: sessionmaker[Session]) -> None:
    accounts.create_user(factory, "root", PASSWORD, "admin")
    with pytest.raises(Refusal) as disabled:
        accounts.set_active(factory, "root", False)
    with pytest.raises(Refusal) as demoted:
        accounts.set_role(factory, "root", "agent")
    assert disabled.value.code == demoted.value.code == "last_admin"
    accounts.create_user(factory, "root2", PASSWORD, "admin")
    assert accounts.set_role(factory, "root", "agent").role == "agent"


@pytest.mark.parametrize(
    ("username", "password", "role", "code"),
    [
        ("Alice", PASSWORD, "agent", "invalid_username"),
        ("a", PASSWORD, "agent", "invalid_username"),
        ("alice smith", PASSWORD, "agent", "invalid_username"),
        ("alice", "short", "agent", "weak_password"),
        ("alice", " " * 12, "agent", "weak_password"),
        ("alice", PASSWORD, "superuser", "invalid_role"),
    ],
)
def test_bad_account_details_are_refused_and_nothing_is_stored(
    factory: sessionmaker[Session], username: str, password: str, role: str, code: str
) -> None:
    with pytest.raises(Refusal) as refused:
        accounts.create_user(factory, username, password, role)
    assert refused.value.code == code
    assert accounts.list_users(factory) == []


def test_username_is_unique(factory: sessionmaker[Session]) -> None:
    accounts.create_user(factory, "alice", PASSWORD, "agent")
    with pytest.raises(Refusal) as taken:
        accounts.create_user(factory, "alice", PASSWORD, "admin")
    assert taken.value.code == "username_taken"


def test_expired_session_is_refused_and_removed(factory: sessionmaker[Session]) -> None:
    bob = accounts.create_user(factory, "bob", PASSWORD, "agent")
    token, info = sessions.start_session(factory, bob.id, dt.timedelta(seconds=-1))
    assert sessions.session_for_token(factory, token) is None
    assert sessions.session_by_id(factory, info.id) is None


def test_customer_style_token_is_not_a_session(factory: sessionmaker[Session]) -> None:
    bob = accounts.create_user(factory, "bob", PASSWORD, "agent")
    token, _ = sessions.start_session(factory, bob.id, HOUR)
    assert sessions.session_for_token(factory, token) is not None
    assert sessions.session_for_token(factory, token[:-1]) is None
    assert sessions.session_for_token(factory, "") is None
