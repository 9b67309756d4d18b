"""The login guard: a per-address attempt limit, growing per-username delays, a bounded hashing pool."""

from __future__ import annotations

import time

import anyio
import pytest

from bot.errors import TooManyRequests
from bot.staff.throttle import FREE_FAILURES, LoginGuard


def refusal(guard: LoginGuard, address: str, username: str) -> TooManyRequests | None:
    try:
        guard.admit(address, username)
    except TooManyRequests as error:
        return error
    return None


def test_each_failure_past_the_free_ones_doubles_the_wait() -> None:
    guard = LoginGuard(attempts_per_minute=100, backoff_max_seconds=60)
    for _ in range(FREE_FAILURES):
        assert guard.delay_seconds("10.0.0.1", "ann") == 0
        guard.failed("10.0.0.1", "ann")
    waits = []
    for _ in range(4):
        waits.append(guard.delay_seconds("10.0.0.1", "ann"))
        guard.failed("10.0.0.1", "ann")
    assert [round(wait) for wait in waits] == [1, 2, 4, 8]


def test_the_wait_never_exceeds_the_cap() -> None:
    guard = LoginGuard(attempts_per_minute=100, backoff_max_seconds=5)
    for _ in range(FREE_FAILURES + 20):
        guard.failed("10.0.0.1", "ann")
    assert 4.9 < guard.delay_seconds("10.0.0.1", "ann") <= 5


def test_a_delay_ends_instead_of_locking_the_user_out() -> None:
    guard = LoginGuard(attempts_per_minute=100, backoff_max_seconds=0.2)
    for _ in range(FREE_FAILURES + 3):
        guard.failed("10.0.0.1", "ann")
    error = refusal(guard, "10.0.0.1", "ann")
    assert error is not None and error.code == "too_many_attempts" and error.retry_after == 1
    time.sleep(0.25)
    assert refusal(guard, "10.0.0.1", "ann") is None


def test_delays_are_per_address_and_username_and_cleared_by_success() -> None:
    guard = LoginGuard(attempts_per_minute=100)
    for _ in range(FREE_FAILURES + 1):
        guard.failed("10.0.0.1", "ann")
    assert guard.delay_seconds("10.0.0.1", "ann") > 0
    assert guard.delay_seconds("10.0.0.2", "ann") == 0
    assert guard.delay_seconds("10.0.0.1", "ben") == 0
    guard.succeeded("10.0.0.1", "ann")
    assert guard.delay_seconds("10.0.0.1", "ann") == 0


def test_an_address_gets_a_fixed_number_of_attempts_a_minute_whatever_the_usernames() -> None:
    guard = LoginGuard(attempts_per_minute=3)
    results = [refusal(guard, "10.0.0.1", f"user{n}") for n in range(5)]
    assert results[:3] == [None, None, None]
    assert all(error is not None and error.code == "too_many_logins" for error in results[3:])
    assert all(error is not None and 1 <= error.retry_after <= 60 for error in results[3:])
    assert refusal(guard, "10.0.0.2", "user0") is None


def test_the_hashing_pool_runs_at_most_its_slots_at_once() -> None:
    guard = LoginGuard(hash_slots=2, hash_wait_seconds=5)
    running = 0
    most = 0

    async def verify() -> None:
        nonlocal running, most
        async with guard.hashing_slot():
            running += 1
            most = max(most, running)
            await anyio.sleep(0.05)
            running -= 1

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(6):
                tasks.start_soon(verify)

    anyio.run(main)
    assert most == 2


def test_a_login_that_waits_too_long_for_a_slot_is_refused_as_busy() -> None:
    guard = LoginGuard(hash_slots=1, hash_wait_seconds=0.1)
    outcomes: list[str] = []

    async def hold() -> None:
        async with guard.hashing_slot():
            await anyio.sleep(0.5)

    async def late() -> None:
        await anyio.sleep(0.02)
        started = time.monotonic()
        with pytest.raises(TooManyRequests) as refused:
            async with guard.hashing_slot():
                outcomes.append("ran")
        outcomes.append(f"{refused.value.code} after {time.monotonic() - started:.1f}s")

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hold)
            tasks.start_soon(late)

    anyio.run(main)
    assert outcomes == ["login_busy after 0.1s"]
