"""`bot serve`'s uvicorn settings, against the real app under uvicorn on a loopback port."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from bot.app import create_app
from bot.config import Settings
from bot.services import Models
from tests.live_server import serve_in_thread
from tests.staff.support import cheap_hashing

REQUEST_TIMEOUT_S = 1.0


def serve(settings: Settings, models: Models, **changes: object) -> Iterator[str]:
    configured = settings.model_copy(update={"http_request_timeout_seconds": REQUEST_TIMEOUT_S, **changes})
    with cheap_hashing(), serve_in_thread(create_app(configured, models), configured) as url:
        yield url


@pytest.fixture
def server(settings: Settings, models: Models) -> Iterator[str]:
    yield from serve(settings, models, login_attempts_per_ip_per_minute=2)


@pytest.fixture
def behind_proxy(settings: Settings, models: Models) -> Iterator[str]:
    yield from serve(settings, models, login_attempts_per_ip_per_minute=2, forwarded_allow_ips="127.0.0.1")


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return connection


def seconds_until_closed(connection: socket.socket) -> float:
    started = time.monotonic()
    while connection.recv(4096):
        pass
    return time.monotonic() - started


def test_a_request_whose_headers_never_finish_is_dropped(server: str) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1")
        assert seconds_until_closed(connection) < REQUEST_TIMEOUT_S + 1.5


def test_a_request_whose_body_never_finishes_is_dropped(server: str) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        assert seconds_until_closed(connection) < REQUEST_TIMEOUT_S + 1.5


def test_a_connection_that_sends_nothing_is_dropped(server: str) -> None:
    with connect(server) as connection:
        assert seconds_until_closed(connection) < REQUEST_TIMEOUT_S + 1.5


def test_whole_requests_on_a_kept_alive_connection_are_answered(server: str) -> None:
    parts = urlsplit(server)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        statuses, sockets = [], set()
        for _ in range(3):
            connection.request("GET", "/widget.js")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.add(id(connection.sock))
            time.sleep(REQUEST_TIMEOUT_S * 0.6)  # together longer than one request deadline
    finally:
        connection.close()
    assert statuses == [200, 200, 200]
    assert len(sockets) == 1


def logins(url: str, forwarded_for: list[str]) -> list[int]:
    codes = []
    with httpx.Client(base_url=url) as client:
        for address in forwarded_for:
            response = client.post(
                "/api/auth/login",
                json={"username": "nobody", "password": "wrong guess"},
                headers={"X-Forwarded-For": address, "Origin": url},
            )
            codes.append(response.status_code)
    return codes


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(server: str) -> None:
    assert logins(server, ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]) == [401, 401, 429, 429]


def test_a_trusted_proxys_forwarded_address_is_the_client(behind_proxy: str) -> None:
    assert logins(behind_proxy, ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]) == [401] * 4
    assert logins(behind_proxy, ["192.0.2.9"] * 3) == [401, 401, 429]
