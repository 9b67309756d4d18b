"""The demo shop as `bot serve` mounts it, and where `bot serve` points the action."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cli import _with_demo_shop
from bot.config import Settings
from bot.services import Models


def test_the_app_serves_the_demo_shop_and_a_setting_turns_it_off(settings: Settings, models: Models) -> None:
    with TestClient(create_app(settings, models)) as client:
        found = client.post("/demo/api/orders/lookup", json={"number": "nw 10045", "contact": "1011ab"})
        assert found.status_code == 200 and found.json()["carrier"] == "PostNL"
        assert "email" not in found.json() and "postcode" not in found.json()
        wrong = client.post("/demo/api/orders/lookup", json={"number": "NW-10045", "contact": "1011 AC"})
        unknown = client.post("/demo/api/orders/lookup", json={"number": "NW-00000", "contact": "1011 AB"})
        assert wrong.status_code == unknown.status_code == 404 and wrong.content == unknown.content
        assert client.post("/demo/api/orders/lookup", content=b"[1]").status_code == 400
    with TestClient(create_app(settings.model_copy(update={"demo_shop": False}), models)) as client:
        assert client.post("/demo/api/orders/lookup", json={}).status_code == 404


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0.0.0.0", "http://127.0.0.1:8000/demo/api"), ("10.1.2.3", "http://10.1.2.3:8000/demo/api")],
)
def test_bot_serve_points_the_action_at_its_own_demo_shop(
    base_settings: Settings, host: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_ACTIONS_BASE_URL", raising=False)
    assert _with_demo_shop(base_settings, host, 8000).actions_base_url == expected
    real = base_settings.model_copy(update={"actions_base_url": "https://shop.example/api"})
    assert _with_demo_shop(real, host, 8000).actions_base_url == "https://shop.example/api"
    off = base_settings.model_copy(update={"demo_shop": False})
    assert _with_demo_shop(off, host, 8000).actions_base_url is None
