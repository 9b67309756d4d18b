"""Everything staff-facing, mounted in one call: API routes, the staff socket, the console pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.api import adapters, auth, console, content, conversations, handoff, staff_ws, users
from bot.api.staff_deps import StaffApiError


def include_staff_console(app: FastAPI) -> None:
    for module in (auth, users, conversations, handoff, staff_ws, console, adapters, content):
        app.include_router(module.router)
    app.add_exception_handler(StaffApiError, _staff_error)


async def _staff_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StaffApiError)
    return JSONResponse({"detail": error.detail, "code": error.code}, status_code=error.status_code)
