"""Staff login, logout and "who am I" under ``/api/auth``."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import SESSION_COOKIE, CurrentSession, check_same_site
from bot.chat.hub import session_topic
from bot.errors import NotAuthenticated
from bot.staff import accounts, passwords, sessions
from bot.staff.accounts import StaffIdentity
from bot.staff.throttle import LoginGuard
from bot.wire.live import LogoutEvent

router = APIRouter(prefix="/api/auth")
_GUARD_LOCK = threading.Lock()


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


def user_view(user: StaffIdentity) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role}


def session_view(session: sessions.SessionInfo) -> dict[str, Any]:
    return {
        "user": user_view(session.user),
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at.isoformat(),
    }


@router.post("/login")
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    check_same_site(request)
    services = services_of(request)
    settings = services.settings
    username = body.username.strip().lower()
    address = request.client.host if request.client else ""
    guard = _login_guard(request)
    guard.admit(address, username)
    async with guard.hashing_slot():
        user = await to_thread.run_sync(
            accounts.authenticate, services.session_factory, username, body.password
        )
    if user is None:
        guard.failed(address, username)
        raise NotAuthenticated("bad_credentials", "wrong username or password")
    guard.succeeded(address, username)
    lifetime = dt.timedelta(hours=settings.staff_session_hours)
    token, session = await to_thread.run_sync(
        sessions.start_session, services.session_factory, user.id, lifetime
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.staff_cookie_secure or request.url.scheme == "https",
    )
    return session_view(session)


def _login_guard(request: Request) -> LoginGuard:
    """The app's login guard, made on first use (one per app, so tests do not share one)."""
    state = request.app.state
    with _GUARD_LOCK:
        if not hasattr(state, "login_guard"):
            state.login_guard = LoginGuard.from_settings(services_of(request).settings)
    return state.login_guard  # type: ignore[no-any-return]


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: CurrentSession, request: Request) -> Response:
    services = services_of(request)
    await to_thread.run_sync(sessions.end_session, services.session_factory, session.id)
    services.hub.publish(session_topic(session.id), LogoutEvent())
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
def me(session: CurrentSession) -> dict[str, Any]:
    return session_view(session)
