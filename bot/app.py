"""The FastAPI application factory. Nothing heavy happens at import; the lifespan loads it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio import to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse

from bot.api import api_docs, chat, health, widget_assets
from bot.api.chat_handshake import ChatHandshakeGuard
from bot.api.demo_shop import demo_shop_config, demo_shop_router
from bot.api.input_guard import InputGuard
from bot.api.security_headers import SecurityHeaders
from bot.api.staff import include_staff_console
from bot.config import PROJECT_ROOT, Settings
from bot.content.store import ContentSnapshot
from bot.db.dialogue_state import purge_expired_forms_every
from bot.db.migrate import upgrade
from bot.db.startup_lock import startup_lock
from bot.insights.rollup import refresh_every
from bot.intents.store import AdapterRef
from bot.services import (
    Models,
    adapter_watcher,
    build_services,
    content_at_start,
    load_models,
    production_adapter,
    retention_worker,
)

WEB_DIR = PROJECT_ROOT / "web"


def create_app(settings: Settings | None = None, models: Models | None = None) -> FastAPI:
    """``models`` lets tests share one loaded model across many apps."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def prepare_database() -> tuple[AdapterRef, ContentSnapshot]:
            # Processes starting together take turns (PostgreSQL); the first does the work.
            with startup_lock(settings.database_url):
                if settings.auto_migrate:
                    upgrade(settings.database_url)
                return production_adapter(settings), content_at_start(settings)

        serving, content = await to_thread.run_sync(prepare_database)
        loaded = (
            models
            if models is not None
            else await to_thread.run_sync(load_models, settings, serving, content.content)
        )
        services = build_services(settings, loaded)
        await to_thread.run_sync(services.content.apply, content)
        app.state.services = services
        async with anyio.create_task_group() as tasks:
            # Promotions and rollbacks reach this process through the registry, without a restart.
            tasks.start_soon(adapter_watcher(services).run, settings.adapter_poll_seconds)
            # Replies and articles edited through another process, likewise.
            tasks.start_soon(services.content.watch, settings.content_poll_seconds)
            # Live events to and from the other processes (with BOT_REDIS_URL; nothing otherwise).
            tasks.start_soon(services.hub.run)
            if services.forms is not None:
                # Forms nobody finished hold personal values: gone after BOT_FORM_TTL_MINUTES.
                ttl = dt.timedelta(minutes=settings.form_ttl_minutes)
                tasks.start_soon(purge_expired_forms_every, services.session_factory, ttl)
            if settings.analytics_refresh_seconds:
                # Closed days' analytics sums, so a 90-day request rarely has to build them itself.
                tasks.start_soon(refresh_every, services.session_factory, settings.analytics_refresh_seconds)
            if settings.retention_days is not None:
                tasks.start_soon(retention_worker(services).run)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                await services.aclose()
                if services.redis is not None:
                    await services.redis.close()

    app = FastAPI(title="Support bot", lifespan=lifespan, **api_docs.fastapi_options(settings))
    app.add_middleware(SecurityHeaders, settings=settings, demo_page=WEB_DIR / "index.html")
    app.add_middleware(ChatHandshakeGuard, settings=settings)
    app.add_middleware(InputGuard)
    api_docs.include_private_docs(app, settings)
    app.include_router(health.router)
    app.include_router(chat.router)
    include_staff_console(app)
    app.include_router(widget_assets.router)
    if settings.demo_shop:
        app.include_router(demo_shop_router(demo_shop_config(settings)))
    _mount_web(app)
    return app


def _mount_web(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def demo_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(
            WEB_DIR / "widget.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )
