"""``/docs``, ``/redoc`` and ``/openapi.json``: for logged-in staff only, unless BOT_PUBLIC_API_DOCS.

The schema lists every route and parameter an attacker could try, so by default it is served
only to someone with a staff session (any role); the pages fetch the schema with the same cookie.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from bot.api.staff_deps import CurrentSession
from bot.config import Settings

OPENAPI_URL = "/openapi.json"


def fastapi_options(settings: Settings) -> dict[str, Any]:
    """FastAPI's own documentation routes: on when public, else replaced by ``include_private_docs``."""
    if settings.public_api_docs:
        return {}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


def include_private_docs(app: FastAPI, settings: Settings) -> None:
    if settings.public_api_docs:
        return

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi(_: CurrentSession) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger(_: CurrentSession) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} - API")

    @app.get("/redoc", include_in_schema=False)
    def redoc(_: CurrentSession) -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} - API")
