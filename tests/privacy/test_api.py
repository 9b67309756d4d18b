"""Erasure for admins over the JSON API, and the serving adapter's mark in /healthz."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.db.models import AdapterTrainingTurn
from bot.services import Models
from tests.privacy.support import rows_containing, seed_conversation
from tests.staff.support import cheap_hashing, factory_of, staff

SECRET = "pangolin-estuary-4410"


@pytest.fixture
def api(base_settings: Settings, database_url: str, models: Models) -> Iterator[TestClient]:
    settings = base_settings.model_copy(update={"database_url": database_url})
    with cheap_hashing(), TestClient(create_app(settings, models)) as client:
        yield client


def test_an_admin_finds_a_customer_by_email_and_erases_the_conversation(api: TestClient) -> None:
    factory = factory_of(api)
    conversation_id, _ = seed_conversation(factory, [f"I am Lee.{SECRET}@example.com"])
    other, _ = seed_conversation(factory, ["where is my order?"])
    admin = staff(api, "root", "admin")

    search = {"email": f"lee.{SECRET}@EXAMPLE.com"}
    found = api.post("/api/privacy/search", json=search, headers=admin.headers())
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["conversations"]] == [conversation_id]
    assert found.json()["conversations"][0]["messages"] == 2

    erased = api.delete(f"/api/conversations/{conversation_id}", headers=admin.headers())
    assert erased.status_code == 200, erased.text
    assert (erased.json()["conversations"], erased.json()["messages"]) == (1, 2)
    assert rows_containing(factory, SECRET) == []
    assert api.get(f"/api/conversations/{conversation_id}", headers=admin.headers()).status_code == 404
    again = api.delete(f"/api/conversations/{conversation_id}", headers=admin.headers())
    assert (again.status_code, again.json()["code"]) == (404, "unknown_conversation")
    assert api.get(f"/api/conversations/{other}", headers=admin.headers()).status_code == 200

    log = api.get("/api/privacy/erasures", headers=admin.headers()).json()
    assert [(r["actor"], r["conversations"], r["messages"]) for r in log] == [("staff:root", 1, 2)]


def test_erasure_needs_an_admin_and_a_csrf_token(api: TestClient) -> None:
    factory = factory_of(api)
    conversation_id, _ = seed_conversation(factory, [f"secret {SECRET}"])
    operator = staff(api, "op", "operator")
    admin = staff(api, "root", "admin")

    assert api.delete(f"/api/conversations/{conversation_id}", headers=operator.headers()).status_code == 403
    search = api.post("/api/privacy/search", json={"email": "a@example.com"}, headers=operator.headers())
    assert search.status_code == 403
    no_csrf = api.delete(f"/api/conversations/{conversation_id}", headers=admin.headers(csrf=False))
    assert no_csrf.status_code == 403
    assert api.delete(f"/api/conversations/{conversation_id}").status_code == 401
    assert rows_containing(factory, SECRET)


def test_search_by_phone_and_erase_several_at_once(api: TestClient) -> None:
    factory = factory_of(api)
    first, _ = seed_conversation(factory, ["ring me on 020 7946 0321"])
    second, _ = seed_conversation(factory, ["it's +44 20 7946 0321"])
    admin = staff(api, "root", "admin")

    query = {"phone": "+44 (0)20 7946 0321"}
    found = api.post("/api/privacy/search", json=query, headers=admin.headers())
    ids = sorted(c["id"] for c in found.json()["conversations"])
    assert ids == sorted([first, second])
    erased = api.post("/api/privacy/erasures", json={"conversation_ids": ids}, headers=admin.headers())
    assert erased.status_code == 200 and erased.json()["conversations"] == 2
    assert rows_containing(factory, "7946 0321") == []

    bad = api.post("/api/privacy/search", json={"phone": "12"}, headers=admin.headers())
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_phone")
    neither = api.post("/api/privacy/search", json={}, headers=admin.headers())
    assert neither.status_code == 422


def test_healthz_reports_a_serving_adapter_trained_on_erased_turns_and_stays_200(api: TestClient) -> None:
    factory = factory_of(api)
    serving = api.app.state.services.slot.current.version  # type: ignore[attr-defined]
    conversation_id, turn_ids = seed_conversation(factory, [f"secret {SECRET}", "and more"])
    assert api.get("/healthz").json()["adapter_erased_turns"] == 0
    with factory() as session, session.begin():
        session.add_all(AdapterTrainingTurn(adapter_id=serving, message_id=i) for i in turn_ids)
    admin = staff(api, "root", "admin")

    api.delete(f"/api/conversations/{conversation_id}", headers=admin.headers())

    health = api.get("/healthz")
    assert health.status_code == 200
    assert health.json()["adapter_erased_turns"] == 2
    assert "trained on 2 customer turns that have since been erased" in health.json()["warnings"][0]
    status = api.get("/api/privacy/status", headers=admin.headers()).json()
    assert status["production_adapter"] == serving and status["production_erased_turns"] == 2
    listed = {row["id"]: row for row in api.get("/api/adapters", headers=admin.headers()).json()}
    assert listed[serving]["erased_turns"] == 2
