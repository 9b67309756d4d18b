"""Calling the shop over real HTTP: answers, misses, failures, retries, the breaker, signing."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from bot.actions.definitions import ActionDefinition, Breaker
from bot.actions.http_call import ActionCaller, CircuitState, Outcome
from bot.actions.signing import verify
from bot.config import Settings
from tests.actions.shop_server import ShopSwitch, shop_server

FOUND = {"order_number": "NW-10042", "contact": "jamie.fox@example.com"}


def call(
    url: str,
    action: ActionDefinition,
    slots: dict[str, str],
    caller: ActionCaller | None = None,
    **secrets: str,
):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient() as client:
            used = caller or ActionCaller(client, url, secrets)
            used.client = client
            return await used.call("order_status", action, slots)

    return anyio.run(run)


def test_both_factors_find_the_order(shop_url: str, order_status: ActionDefinition) -> None:
    result = call(shop_url, order_status, FOUND)
    assert result.outcome is Outcome.OK and result.status == 200
    assert result.data == {
        "number": "NW-10042",
        "status": "shipped",
        "carrier": "DHL",
        "tracking": "JD014600006181012345",
        "placed_on": "2026-11-24",
    }


def test_a_postcode_works_as_the_second_factor(shop_url: str, order_status: ActionDefinition) -> None:
    result = call(shop_url, order_status, {"order_number": "NW-10042", "contact": "sw1a 1aa"})
    assert result.outcome is Outcome.OK


def test_a_wrong_email_answers_exactly_like_an_unknown_order(
    shop_url: str, order_status: ActionDefinition, switch: ShopSwitch
) -> None:
    async def raw(number: str, contact: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(f"{shop_url}/orders/lookup", json={"number": number, "contact": contact})

    wrong_email = anyio.run(raw, "NW-10042", "someone@example.com")
    unknown = anyio.run(raw, "NW-99999", "jamie.fox@example.com")
    assert wrong_email.status_code == unknown.status_code == 404
    assert wrong_email.content == unknown.content
    assert call(shop_url, order_status, {**FOUND, "contact": "x@example.com"}).outcome is Outcome.NOT_FOUND


def test_a_5xx_is_retried_once_then_fails(
    shop_url: str, order_status: ActionDefinition, switch: ShopSwitch
) -> None:
    switch.status = 503
    result = call(shop_url, order_status, FOUND)
    assert result.outcome is Outcome.FAILED and result.status == 503
    assert result.attempts == 2 and switch.requests == 2


def test_a_timeout_fails_within_the_deadline_and_is_not_retried(
    shop_url: str, order_status: ActionDefinition, switch: ShopSwitch
) -> None:
    switch.delay_seconds = 2.0
    quick = order_status.model_copy(update={"timeout_seconds": 0.3})
    started = time.monotonic()
    result = call(shop_url, quick, FOUND)
    assert result.outcome is Outcome.FAILED and "timeout" in result.reason
    assert time.monotonic() - started < 1.5 and result.attempts == 1


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[1, 2]", b'{"number": "NW-10042"'])
def test_malformed_json_fails(
    shop_url: str, order_status: ActionDefinition, switch: ShopSwitch, body: bytes
) -> None:
    switch.body = body
    result = call(shop_url, order_status, FOUND)
    assert result.outcome is Outcome.FAILED and result.attempts == 1


def test_the_circuit_opens_after_failures_and_a_trial_closes_it(
    shop_url: str, order_status: ActionDefinition, switch: ShopSwitch
) -> None:
    now = [1000.0]
    action = order_status.model_copy(update={"retries": 0, "breaker": Breaker(failures=2, open_seconds=30)})

    async def run() -> list[Outcome]:
        async with httpx.AsyncClient() as client:
            caller = ActionCaller(client, shop_url, {}, clock=lambda: now[0])
            outcomes = []
            switch.status = 500
            for _ in range(3):
                outcomes.append((await caller.call("order_status", action, FOUND)).outcome)
            assert caller.circuit_state("order_status") is CircuitState.OPEN
            switch.reset()
            now[0] += 31  # half-open: one trial call goes through and closes the circuit
            outcomes.append((await caller.call("order_status", action, FOUND)).outcome)
            assert caller.circuit_state("order_status") is CircuitState.CLOSED
            stats = caller.stats["order_status"]
            assert stats.calls == 3 and stats.failures == 2 and stats.refused_by_circuit == 1
            return outcomes

    assert anyio.run(run) == [Outcome.FAILED, Outcome.FAILED, Outcome.CIRCUIT_OPEN, Outcome.OK]
    assert switch.requests == 3  # the open circuit sent nothing


def test_a_refused_connection_fails_quickly(order_status: ActionDefinition) -> None:
    result = call("http://127.0.0.1:9/demo/api", order_status, FOUND)
    assert result.outcome is Outcome.FAILED and result.attempts == 2


def test_no_base_url_is_not_configured(order_status: ActionDefinition) -> None:
    async def run():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient() as client:
            return await ActionCaller(client, None, {}).call("order_status", order_status, FOUND)

    assert anyio.run(run).outcome is Outcome.NOT_CONFIGURED


def test_secrets_fill_headers_and_sign_the_body(
    base_settings: Settings, order_status: ActionDefinition
) -> None:
    switch = ShopSwitch()
    signed = order_status.model_copy(
        update={"headers": {"Authorization": "Bearer ${SHOP_TOKEN}"}, "sign": "SHOP_HMAC"}
    )
    with shop_server(base_settings, switch, signing_secret="hmac-secret") as url:
        result = call(url, signed, FOUND, SHOP_TOKEN="tok-123", SHOP_HMAC="hmac-secret")
        assert result.outcome is Outcome.OK
        headers, body = switch.headers[-1], switch.bodies[-1]
        assert headers["authorization"] == "Bearer tok-123"
        assert verify("hmac-secret", headers, body)
        assert body == b'{"number":"NW-10042","contact":"jamie.fox@example.com"}'
        # The shop refuses a request signed with another secret.
        assert call(url, signed, FOUND, SHOP_TOKEN="t", SHOP_HMAC="wrong").outcome is Outcome.FAILED
    missing = call("http://127.0.0.1:9", signed, FOUND)
    assert missing.outcome is Outcome.NOT_CONFIGURED and "SHOP_TOKEN" in missing.reason
