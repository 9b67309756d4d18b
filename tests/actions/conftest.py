"""Fixtures of the action tests: the shipped order-status action and a real local shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.actions.definitions import ActionDefinition, read_actions_file
from bot.config import PROJECT_ROOT, Settings
from tests.actions.shop_server import ShopSwitch, shop_server


@pytest.fixture(scope="session")
def order_status() -> ActionDefinition:
    actions, problems = read_actions_file(PROJECT_ROOT / "data" / "actions.yml")
    assert problems == []
    return actions["order_status"]


@pytest.fixture
def switch() -> ShopSwitch:
    return ShopSwitch()


@pytest.fixture
def shop_url(base_settings: Settings, switch: ShopSwitch) -> Iterator[str]:
    with shop_server(base_settings, switch) as url:
        yield url
