"""What the widget fetches besides itself: its look (bot name, welcome, avatar), the avatar, the favicon.

``/widget-config.json`` is public and cross-origin readable (``Access-Control-Allow-Origin: *``,
no cookies): the widget runs on the shop's pages and may be served from another origin. It
carries only what the operator configured for every visitor. The avatar is served from this
origin, so the embedding page's Content-Security-Policy needs no third-party image source.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from bot.api.deps import services_of
from bot.config import PROJECT_ROOT

WEB_DIR = PROJECT_ROOT / "web"
CACHE_A_DAY = "public, max-age=86400"

router = APIRouter(include_in_schema=False)


@router.get("/widget-config.json")
def widget_config(request: Request) -> JSONResponse:
    settings = services_of(request).settings
    return JSONResponse(
        {
            "bot_name": settings.widget_bot_name,
            "welcome": settings.widget_welcome,
            "avatar": settings.widget_avatar or None,
        },
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
    )


@router.get("/widget-avatar.svg")
def avatar() -> FileResponse:
    return FileResponse(
        WEB_DIR / "widget-avatar.svg",
        media_type="image/svg+xml",
        # An SVG opened on its own must not run anything, whatever it contains.
        headers={
            "Cache-Control": CACHE_A_DAY,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(
        WEB_DIR / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": CACHE_A_DAY}
    )
