"""Staff login, logout and "who am I" under ``/api/auth``."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import SESSION_COOKIE, CurrentSession, StaffApiError, check_same_site
from bot.chat.hub import Event, session_topic
from bot.staff import accounts, passwords, sessions
from bot.staff.accounts import StaffIdentity
from bot.staff.throttle import LoginThrottle

router = APIRouter(prefix="/api/auth")
_THROTTLE_LOCK = threading.Lock()


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
def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    check_same_site(request)
    services = services_of(request)
    settings = services.settings
    username = body.username.strip().lower()
    address = request.client.host if request.client else ""
    throttle = _throttle(request)
    wait = throttle.wait_seconds(address, username)
    if wait > 0:
        raise StaffApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too_many_attempts",
            f"too many failed logins; try again in {int(wait) + 1} seconds",
        )
    user = accounts.authenticate(services.session_factory, username, body.password)
    if user is None:
        throttle.failed(address, username)
        raise StaffApiError(status.HTTP_401_UNAUTHORIZED, "bad_credentials", "wrong username or password")
    throttle.succeeded(address, username)
    lifetime = dt.timedelta(hours=settings.staff_session_hours)
    token, session = sessions.start_session(services.session_factory, user.id, lifetime)
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


def _throttle(request: Request) -> LoginThrottle:
    """The app's login throttle, made on first use (one per app, so tests do not share one)."""
    state = request.app.state
    with _THROTTLE_LOCK:
        if not hasattr(state, "login_throttle"):
            state.login_throttle = LoginThrottle()
    return state.login_throttle  # type: ignore[no-any-return]


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: CurrentSession, request: Request) -> Response:
    services = services_of(request)
    await to_thread.run_sync(sessions.end_session, services.session_factory, session.id)
    services.hub.publish(session_topic(session.id), Event("logout"))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
def me(session: CurrentSession) -> dict[str, Any]:
    return session_view(session)
