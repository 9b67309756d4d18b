"""Staff accounts under ``/api/users``: admins only."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from bot.api.deps import services_of
from bot.api.staff_deps import AdminStaff
from bot.chat.hub import user_topic
from bot.db.models import StaffUser
from bot.errors import NotFound
from bot.staff import accounts, passwords
from bot.staff.accounts import StaffIdentity
from bot.wire.live import LogoutEvent

router = APIRouter(prefix="/api/users")


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    role: str
    display_name: str | None = Field(default=None, max_length=200)


class UserChange(BaseModel):
    role: str | None = None
    active: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


def account_view(user: StaffUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


@router.get("")
def list_accounts(request: Request, admin: AdminStaff) -> dict[str, Any]:
    users = accounts.list_users(services_of(request).session_factory)
    return {"users": [account_view(user) for user in users]}


@router.post("", status_code=status.HTTP_201_CREATED)
def create_account(body: NewUser, request: Request, admin: AdminStaff) -> dict[str, Any]:
    factory = services_of(request).session_factory
    accounts.create_user(factory, body.username, body.password, body.role, body.display_name)
    return _view(request, body.username)


@router.patch("/{username}")
async def change_account(
    username: str, body: UserChange, request: Request, admin: AdminStaff
) -> dict[str, Any]:
    factory = services_of(request).session_factory
    before = await to_thread.run_sync(_view, request, username)
    if body.display_name is not None:
        await to_thread.run_sync(accounts.set_display_name, factory, username, body.display_name)
    if body.role is not None and body.role != before["role"]:
        _sign_out(request, await to_thread.run_sync(accounts.set_role, factory, username, body.role))
    if body.active is not None:
        changed = await to_thread.run_sync(accounts.set_active, factory, username, body.active)
        if not body.active:
            _sign_out(request, changed)
    return await to_thread.run_sync(_view, request, username)


@router.post("/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
async def set_password(username: str, body: NewPassword, request: Request, admin: AdminStaff) -> None:
    factory = services_of(request).session_factory
    user = await to_thread.run_sync(accounts.set_password, factory, username, body.password)
    _sign_out(request, user)


def _view(request: Request, username: str) -> dict[str, Any]:
    user = accounts.find_user(services_of(request).session_factory, username)
    if user is None:
        raise NotFound("unknown_user", f"no staff account named {username!r}")
    return account_view(user)


def _sign_out(request: Request, user: StaffIdentity) -> None:
    """The account's sessions are gone; close its live sockets too."""
    services_of(request).hub.publish(user_topic(user.id), LogoutEvent())
