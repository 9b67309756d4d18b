"""The real app under uvicorn on a loopback port, in a background thread, for browser tests.

Use the ``live_server`` fixture (re-exported by ``tests/web/conftest.py``; import it into
another folder's conftest the same way): it serves ``create_app(settings, models)`` on the
test's own database and yields the base URL, e.g. ``http://127.0.0.1:40123``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from bot.app import create_app
from bot.config import Settings
from bot.http_server import uvicorn_options
from bot.services import Models

START_TIMEOUT_S = 30.0


@contextmanager
def serve_in_thread(app: FastAPI, settings: Settings) -> Iterator[str]:
    """Run ``app`` as `bot serve` would until the block ends; yields its base URL once it listens."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,  # the OS picks a free port; read back from the listening socket below
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped during start-up (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.02)


@pytest.fixture
def live_server(settings: Settings, models: Models) -> Iterator[str]:
    """Base URL of the real app on this test's fresh SQLite database (``settings``)."""
    with serve_in_thread(create_app(settings, models), settings) as url:
        yield url
