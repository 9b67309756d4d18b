"""Learning rounds through /api/rounds: a real round in its own process, on a short recipe.

The round trains one epoch on a seed cut to 12 utterances an intent, warm-started from the
shipped adapter: the whole real path (round process, data, training, gate) in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.intents import registry
from bot.services import Models
from tests.learning.round_support import FINISHED, PRODUCTION, short_round_settings, wait_for
from tests.staff.support import Login, cheap_passwords, factory_of, staff  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cheap_passwords")]


@pytest.fixture
def round_client(settings: Settings, models: Models, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(short_round_settings(settings, tmp_path), models)) as client:
        yield client


def niceness_of(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of /proc/PID/stat, counted after the command name


def test_a_round_runs_in_its_own_process_and_its_candidate_is_shadowed_then_discarded(
    round_client: TestClient, models: Models
) -> None:
    client = round_client
    settings: Settings = client.app.state.services.settings  # type: ignore[attr-defined]
    operator = staff(client, "olga", "operator")
    agent = staff(client, "ann", "agent")
    assert client.post("/api/rounds", json={"epochs": 1}, headers=agent.headers()).status_code == 403

    started = client.post("/api/rounds", json={"epochs": 1}, headers=operator.headers())
    assert started.status_code == 202, started.text
    round_id = started.json()["id"]
    assert started.json()["started_by"] == "olga"

    def read(login: Login = operator, on: TestClient = client) -> dict[str, Any]:
        response = on.get(f"/api/rounds/{round_id}", headers=login.headers())
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    training = wait_for(read, lambda r: r["progress"]["step"] > 0 or r["state"] in FINISHED)
    assert training["state"] == "running", training
    assert 0 < training["progress"]["step"] <= training["progress"]["steps"]
    pid = training["pid"]
    assert pid != os.getpid()
    assert niceness_of(pid) == min(19, niceness_of(os.getpid()) + settings.round_niceness)

    second = client.post("/api/rounds", json={"epochs": 1}, headers=operator.headers())
    assert second.status_code == 409
    assert second.json()["code"] == "round_running"

    # Another server process (or this one after a restart) sees the same round.
    with TestClient(create_app(settings, models)) as other:
        other_operator = staff(other, "otto", "operator")
        listed = other.get("/api/rounds", headers=other_operator.headers()).json()
        assert listed["running"] == round_id

    finished = wait_for(read, lambda r: r["state"] in FINISHED)
    assert finished["state"] == "succeeded", finished
    assert finished["progress"]["step"] == finished["progress"]["steps"] > 0
    phases = [m["text"] for m in finished["messages"]]
    assert [p for p in phases if p in ("building data", "training", "gating")] == [
        "building data",
        "training",
        "gating",
    ]
    candidate = finished["candidate"]
    assert finished["candidate_state"] == "candidate"
    assert finished["gate"]["candidate"] == candidate
    assert finished["gate"]["production"] == PRODUCTION

    shadow = client.post(f"/api/rounds/{round_id}/shadow", json={"on": True}, headers=operator.headers())
    assert shadow.json() == {"id": candidate, "shadow": True}
    factory = factory_of(client)
    assert registry.shadow_candidate(factory).id == candidate  # type: ignore[union-attr]

    discard = client.post(
        f"/api/rounds/{round_id}/discard", json={"reason": "not this one"}, headers=operator.headers()
    )
    assert discard.json() == {"id": candidate, "state": "retired"}
    assert registry.shadow_candidate(factory) is None
    record = read()
    assert record["decision"]["action"] == "discarded"
    assert record["decision"]["actor"] == "olga"
    assert record["candidate_state"] == "retired"
    promote = client.post(f"/api/rounds/{round_id}/promote", json={}, headers=operator.headers())
    assert promote.status_code == 409
    assert registry.production(factory).id == PRODUCTION  # type: ignore[union-attr]


def test_a_round_cancelled_while_training_stops_registers_nothing_and_frees_the_lock(
    round_client: TestClient,
) -> None:
    client = round_client
    operator = staff(client, "olga", "operator")
    # Many epochs, so that the round is surely still training when the cancellation arrives.
    round_id = client.post("/api/rounds", json={"epochs": 30}, headers=operator.headers()).json()["id"]

    def read(round_id: str = round_id) -> dict[str, Any]:
        response = client.get(f"/api/rounds/{round_id}", headers=operator.headers())
        return response.json()  # type: ignore[no-any-return]

    training = wait_for(read, lambda r: r["progress"]["step"] > 0 or r["state"] in FINISHED)
    assert training["phase"] == "training", training
    cancel = client.post(f"/api/rounds/{round_id}/cancel", headers=operator.headers())
    assert cancel.status_code == 200
    assert cancel.json()["cancel_requested"]
    record = wait_for(read, lambda r: r["state"] in FINISHED)
    assert (record["state"], record["cancelled_by"], record["candidate"]) == ("cancelled", "olga", None)
    assert record["progress"]["step"] < record["progress"]["steps"]
    assert [row.id for row in registry.all_versions(factory_of(client))] == [PRODUCTION]

    # The lock is free again; a round cancelled before its process got going stops at once.
    again = client.post("/api/rounds", json={"epochs": 1}, headers=operator.headers())
    assert again.status_code == 202
    client.post(f"/api/rounds/{again.json()['id']}/cancel", headers=operator.headers())
    assert (
        wait_for(lambda: read(again.json()["id"]), lambda r: r["state"] in FINISHED)["state"] == "cancelled"
    )
