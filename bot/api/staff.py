"""Everything staff-facing, mounted in one call: API routes, the staff socket, the console pages."""

from __future__ import annotations

from fastapi import FastAPI

from bot.api import (
    actions,
    adapters,
    analytics,
    auth,
    clusters,
    console,
    content,
    conversations,
    handoff,
    inbox,
    privacy,
    rounds,
    staff_ws,
    users,
)
from bot.api.errors import install_refusal_handler


def include_staff_console(app: FastAPI) -> None:
    routers = (
        auth,
        users,
        conversations,
        handoff,
        inbox,
        staff_ws,
        console,
        adapters,
        rounds,
        actions,
        content,
        privacy,
        analytics,
        clusters,
    )
    for module in routers:
        app.include_router(module.router)
    install_refusal_handler(app)
