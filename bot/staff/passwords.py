"""Password hashing with argon2id at the library's recommended parameters (RFC 9106).

Tests may swap in a cheaper hasher with ``use_hasher``; production never does.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
# argon2 accepts any length; the cap keeps one login request from costing unbounded CPU.
MAX_LENGTH = 1024

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class PasswordPolicyError(ValueError):
    pass


def use_hasher(hasher: PasswordHasher) -> None:
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"the password may have at most {MAX_LENGTH} characters")
    if not password.strip():
        raise PasswordPolicyError("the password is blank")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown username costs as long as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password, only for timing")
    verify_password(_dummy_hash, password)
