"""Staff roles, weakest first: each role can do everything the ones before it can."""

from __future__ import annotations

ROLES = ("agent", "operator", "admin")


def is_role(name: str) -> bool:
    return name in ROLES


def role_includes(role: str, required: str) -> bool:
    """Whether someone with ``role`` may do what ``required`` may; unknown roles may nothing."""
    if role not in ROLES or required not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(required)
