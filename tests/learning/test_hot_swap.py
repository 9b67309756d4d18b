"""A running server follows the registry: swaps, refuses tampered versions, runs a shadow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.config import Settings
from bot.db.models import Prediction
from bot.intents import registry
from bot.services import Models


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def running_app(loop_settings: Settings, models: Models) -> TestClient:
    return TestClient(create_app(loop_settings.model_copy(update={"adapter_poll_seconds": 0.1}), models))


def test_promotion_is_served_without_restart_and_socket_stays_open(
    loop_settings: Settings, models: Models
) -> None:
    with running_app(loop_settings, models) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        factory: sessionmaker[Session] = services.session_factory
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", "token": None, "last_seq": None})
            ws.receive_json()
            registry.promote(factory, "default/v2", actor="ops", reason="test")
            wait_for(lambda: services.slot.current.version == "default/v2")
            ws.send_json({"type": "message", "client_id": "a", "text": "where is my parcel"})
            assert ws.receive_json()["type"] == "ack"
            assert ws.receive_json()["role"] == "bot"
        with factory() as session:
            assert session.scalars(select(Prediction.adapter_version)).one() == "default/v2"


def test_tampered_version_is_not_loaded_and_serving_goes_on(loop_settings: Settings, models: Models) -> None:
    with running_app(loop_settings, models) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        factory: sessionmaker[Session] = services.session_factory
        # The session's preloaded model is the shipped one: wait until this store's v1 serves.
        wait_for(lambda: services.slot.current.version == "default/v1")
        # Promoted while intact, changed on disk afterwards: the watcher must refuse to load it.
        registry.promote(factory, "default/v3", actor="ops", reason="test")
        labels = loop_settings.adapter_dir / "default" / "v3" / "labels.json"
        labels.write_text(json.dumps(list(reversed(json.loads(labels.read_text())))))
        time.sleep(1.0)
        assert services.slot.current.version == "default/v1"
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", "token": None, "last_seq": None})
            ws.receive_json()
            ws.send_json({"type": "message", "client_id": "a", "text": "hello"})
            ws.receive_json()
            assert ws.receive_json()["role"] == "bot"


def test_shadow_candidate_predictions_are_stored_but_never_answer(
    loop_settings: Settings, models: Models
) -> None:
    with running_app(loop_settings, models) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        factory: sessionmaker[Session] = services.session_factory
        registry.set_shadow(factory, "default/v2", True, actor="ops")
        wait_for(lambda: services.shadow.current is not None)
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", "token": None, "last_seq": None})
            ws.receive_json()
            ws.send_json({"type": "message", "client_id": "a", "text": "I forgot my password"})
            ws.receive_json()
            reply = ws.receive_json()
            # The next frame proves the shadow work for the first turn has finished.
            ws.send_json({"type": "feedback", "seq": reply["seq"], "rating": "up"})
            ws.receive_json()
        with factory() as session:
            rows = {(p.adapter_version, p.shadow) for p in session.scalars(select(Prediction))}
        assert rows == {("default/v1", False), ("default/v2", True)}
        assert reply["intent"]["name"] == "reset_password"
        registry.set_shadow(factory, "default/v2", False, actor="ops")
        wait_for(lambda: services.shadow.current is None)
