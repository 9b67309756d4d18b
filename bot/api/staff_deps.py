"""Who is asking, for staff routes: the session cookie, the CSRF check and role rules.

Use the ``Annotated`` aliases in route signatures::

    @router.post("/api/adapters/{version}/promote")
    def promote(version: str, staff: OperatorStaff) -> ...: ...

Every dependency answers 401 without a live staff session and 403 for a role that is too
weak. On state-changing methods (anything but GET, HEAD, OPTIONS) it also requires the
``X-CSRF-Token`` header to match the session's token and a same-site ``Origin``; a browser
on another site can neither read the token nor set the header. Only the staff session cookie
is ever looked at, so a customer's chat token opens nothing here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from bot.api.deps import services_of
from bot.config import Settings
from bot.errors import Forbidden, NotAuthenticated
from bot.staff import sessions
from bot.staff.accounts import StaffIdentity
from bot.staff.roles import role_includes

SESSION_COOKIE = "bot_staff_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_of(connection: HTTPConnection) -> sessions.SessionInfo | None:
    """The live staff session behind the request's cookie, if any (blocking: call from a thread)."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return sessions.session_for_token(services_of(connection).session_factory, token)


def origin_allowed(connection: HTTPConnection, settings: Settings) -> bool:
    """A missing Origin is fine (browsers always send one where it matters); else it must be ours."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if origin in settings.staff_allowed_origins:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host", "")


def current_session(request: Request) -> sessions.SessionInfo:
    session = session_of(request)
    if session is None:
        raise NotAuthenticated("not_logged_in", "log in as staff first")
    if request.method not in SAFE_METHODS:
        check_same_site(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise Forbidden("bad_csrf_token", f"missing or wrong {CSRF_HEADER} header")
    return session


def check_same_site(request: Request) -> None:
    if not origin_allowed(request, services_of(request).settings):
        raise Forbidden("cross_site", "cross-site request refused")


CurrentSession = Annotated[sessions.SessionInfo, Depends(current_session)]


def require_role(role: str) -> Callable[[sessions.SessionInfo], StaffIdentity]:
    """A dependency that yields the staff member when their role includes ``role``."""

    def staff_with_role(session: CurrentSession) -> StaffIdentity:
        if not role_includes(session.user.role, role):
            raise Forbidden("forbidden", f"this needs the {role} role")
        return session.user

    staff_with_role.__name__ = f"require_{role}"
    return staff_with_role


CurrentStaff = Annotated[StaffIdentity, Depends(require_role("agent"))]
OperatorStaff = Annotated[StaffIdentity, Depends(require_role("operator"))]
AdminStaff = Annotated[StaffIdentity, Depends(require_role("admin"))]
