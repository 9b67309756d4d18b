"""A server configured for Redis keeps answering customers when Redis does not answer, and says so."""

from __future__ import annotations

import socket
import time

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.services import Models


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_without_redis_customers_are_answered_and_healthz_reports_it_down_but_stays_ready(
    settings: Settings, models: Models
) -> None:
    configured = settings.model_copy(update={"redis_url": closed_port_url()})
    with TestClient(create_app(configured, models)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["type"] == "welcome"
            ws.send_json({"type": "message", "client_id": "m1", "text": "where is my order?"})
            assert ws.receive_json()["type"] == "ack"
            reply = ws.receive_json()
            assert (reply["type"], reply["role"], reply["reply_to"]) == ("message", "bot", 1)
        deadline = time.monotonic() + 10
        while (health := client.get("/healthz")).json()["redis"] != "down":
            assert time.monotonic() < deadline, health.json()
            time.sleep(0.1)
        assert health.status_code == 200
        assert any("Redis does not answer" in warning for warning in health.json()["warnings"])


def test_a_single_process_reports_redis_off(client: TestClient) -> None:
    health = client.get("/healthz")
    assert (health.status_code, health.json()["redis"]) == (200, "off")
    assert "warnings" not in health.json()
