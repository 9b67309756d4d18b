"""Actions as content through the staff API: read, edit with checks, test against the shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.services import Models
from tests.staff.support import cheap_passwords, staff  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def api_client(settings: Settings, models: Models, shop_url: str) -> Iterator[TestClient]:
    settings = settings.model_copy(update={"business_actions": True, "actions_base_url": shop_url})
    with TestClient(create_app(settings, models)) as client:
        yield client


def test_operators_test_an_action_and_see_what_a_customer_would_read(api_client: TestClient) -> None:
    agent, operator = staff(api_client, "ann", "agent"), staff(api_client, "olga", "operator")
    listed = api_client.get("/api/content/actions", headers=agent.headers(csrf=False)).json()
    assert [(a["name"], a["used_by"], a["stats"]["circuit"]) for a in listed] == [
        ("order_status", ["track_order"], "closed")
    ]
    assert (
        api_client.post(
            "/api/content/actions/order_status/test", json={}, headers=agent.headers()
        ).status_code
        == 403
    )
    result = api_client.post(
        "/api/content/actions/order_status/test", json={}, headers=operator.headers()
    ).json()
    assert result["outcome"] == "ok" and result["status"] == 200
    assert (
        result["reply"]
        == "Your order NW-10042 is on its way with DHL. Tracking number: JD014600006181012345."
    )
    missed = api_client.post(
        "/api/content/actions/order_status/test",
        json={"slots": {"contact": "nobody@example.com"}},
        headers=operator.headers(),
    ).json()
    assert missed["outcome"] == "not_found" and missed["reply"].startswith("I couldn't find an order")
    stats = api_client.get("/api/content/actions/order_status", headers=agent.headers()).json()["stats"]
    assert stats["calls"] == 2 and stats["not_found"] == 1


def test_an_invalid_definition_is_refused_with_every_problem(api_client: TestClient) -> None:
    operator = staff(api_client, "olga", "operator")
    current = api_client.get("/api/content/actions/order_status", headers=operator.headers()).json()
    broken = {
        **current["definition"],
        "reply": "{% if data.status %}unclosed",
        "path": "/orders/{missing}",
        "headers": {"Authorization": "Bearer ${not a name}"},
    }
    refused = api_client.put(
        "/api/content/actions/order_status", json={"definition": broken}, headers=operator.headers()
    )
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_action"
    detail = refused.json()["detail"]
    assert (
        "reply: template error" in detail
        and "{missing} is not a slot" in detail
        and "not a secret name" in detail
    )
    changed = {**current["definition"], "timeout_seconds": 1.5}
    saved = api_client.put(
        "/api/content/actions/order_status",
        json={"definition": changed, "version": current["version"]},
        headers=operator.headers(),
    )
    assert saved.status_code == 200 and saved.json()["version"] == current["version"] + 1
    # Served at once by this process.
    assert api_client.app.state.services.chat.responses.actions["order_status"].timeout_seconds == 1.5  # type: ignore[attr-defined]
    history = api_client.get("/api/content/actions/order_status/history", headers=operator.headers()).json()
    assert history["changes"][0]["data"]["definition"]["timeout_seconds"] == 1.5


def test_a_reply_may_name_only_an_action_that_exists_and_one_in_use_stays(api_client: TestClient) -> None:
    operator = staff(api_client, "olga", "operator")
    body = {"title": "Track my order", "replies": ["Look in your e-mail."], "action": "no_such_action"}
    refused = api_client.put("/api/content/responses/track_order", json=body, headers=operator.headers())
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_action"
    in_use = api_client.delete("/api/content/actions/order_status", headers=operator.headers())
    assert in_use.status_code == 409 and "track_order" in in_use.json()["detail"]
