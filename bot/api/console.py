"""The staff console's pages: ``/console`` (staff only, else the login page) and its assets.

Pages carry a strict Content-Security-Policy: scripts and styles only from this origin, no
inline code, no framing, as a second wall behind rendering customer text as text.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from bot.api.staff_deps import session_of
from bot.config import PROJECT_ROOT
from bot.errors import NotFound

CONSOLE_DIR = PROJECT_ROOT / "web" / "console"
ASSETS = {
    "console.js": "text/javascript",
    "api.js": "text/javascript",
    "turns.js": "text/javascript",
    "admin.js": "text/javascript",
    "rounds.js": "text/javascript",
    "content.js": "text/javascript",
    "actions.js": "text/javascript",
    "privacy.js": "text/javascript",
    "socket.js": "text/javascript",
    "desk.js": "text/javascript",
    "canned.js": "text/javascript",
    "login.js": "text/javascript",
    "console.css": "text/css",
    "analytics.js": "text/javascript",
    "insights.js": "text/javascript",
    "insights.css": "text/css",
}
# Third-party files kept as published (web/console/vendor/, with their licences).
VENDOR_ASSETS = {"uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(CONSOLE_DIR / name, media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/console")
async def console(request: Request) -> Response:
    if await to_thread.run_sync(session_of, request) is None:
        return RedirectResponse("/console/login", status_code=303, headers={"Cache-Control": "no-store"})
    return _page("index.html")


@router.get("/console/login")
def login_page() -> FileResponse:
    return _page("login.html")


@router.get("/console/vendor/{asset}")
def vendor_asset(asset: str) -> FileResponse:
    media_type = VENDOR_ASSETS.get(asset)
    if media_type is None:
        raise NotFound("unknown_asset", "not found")
    return FileResponse(CONSOLE_DIR / "vendor" / asset, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/console/{asset}")
def asset(asset: str) -> FileResponse:
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise NotFound("unknown_asset", "not found")
    return FileResponse(CONSOLE_DIR / asset, media_type=media_type, headers=SECURITY_HEADERS)
