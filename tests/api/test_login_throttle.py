"""Logins cannot starve the chat: per-address limits before hashing, growing delays, a bounded pool."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.services import Models
from bot.staff import passwords
from tests.staff.support import PASSWORD, create_staff

OFFICE = ("203.0.113.10", 40000)
HOME = ("198.51.100.20", 40000)


class CountingHasher(PasswordHasher):
    """argon2 at its cheapest, counting every verification (the expensive call a login makes)."""

    verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002
        type(self).verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> Iterator[type[CountingHasher]]:
    CountingHasher.verifications = 0
    passwords.use_hasher(CountingHasher.from_parameters(profiles.CHEAPEST))
    try:
        yield CountingHasher
    finally:
        passwords.use_hasher(PasswordHasher())


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"login_attempts_per_ip_per_minute": 5, "login_backoff_max_seconds": 60}
    )


@pytest.fixture
def office(app_settings: Settings, models: Models) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, models), client=OFFICE) as client:
        yield client


def attempt(client: TestClient, username: str, password: str = "wrong guess") -> tuple[int, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code, response.json().get("code", "") if response.status_code != 200 else ""


def test_random_usernames_from_one_address_get_no_free_password_hashing(
    office: TestClient, hasher: type[CountingHasher]
) -> None:
    results = [attempt(office, f"nobody-{uuid.uuid4().hex[:8]}") for _ in range(30)]
    assert results[:5] == [(401, "bad_credentials")] * 5
    assert results[5:] == [(429, "too_many_logins")] * 25
    assert hasher.verifications == 5


def test_a_refused_login_says_when_to_try_again(office: TestClient, hasher: type[CountingHasher]) -> None:
    for _ in range(5):
        attempt(office, f"nobody-{uuid.uuid4().hex[:8]}")
    refused = office.post("/api/auth/login", json={"username": "someone", "password": "x"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_wrong_passwords_make_the_next_try_wait_longer_each_time(
    office: TestClient, hasher: type[CountingHasher]
) -> None:
    create_staff(office, "ann")
    assert [attempt(office, "ann") for _ in range(3)] == [(401, "bad_credentials")] * 3
    first_wait = office.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert first_wait.status_code == 429 and first_wait.json()["code"] == "too_many_attempts"
    assert first_wait.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert attempt(office, "ann") == (401, "bad_credentials")
    second_wait = office.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert second_wait.status_code == 429 and second_wait.headers["Retry-After"] == "2"
    assert hasher.verifications == 4


def test_guesses_from_a_shared_address_do_not_lock_the_real_user_out(
    office: TestClient, hasher: type[CountingHasher]
) -> None:
    create_staff(office, "ann")
    for _ in range(4):
        attempt(office, "ann")
    at_home = TestClient(office.app, client=HOME)
    assert attempt(at_home, "ann", PASSWORD) == (200, "")
    time.sleep(2.05)
    assert attempt(office, "ann", PASSWORD) == (200, "")


def test_a_login_that_cannot_get_a_hashing_slot_is_refused_quickly(
    office: TestClient, hasher: type[CountingHasher]
) -> None:
    attempt(office, "warm-up")  # the app makes its login guard on the first login
    guard = office.app.state.login_guard  # type: ignore[attr-defined]
    guard.hash_wait_seconds = 0.05

    async def login_while_the_only_slot_is_busy() -> tuple[int, str, float]:
        async with guard.hashing_slot():
            started = time.monotonic()
            transport = httpx.ASGITransport(app=office.app, client=OFFICE)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                response = await http.post("/api/auth/login", json={"username": "ben", "password": "a guess"})
            return response.status_code, response.json()["code"], time.monotonic() - started

    status, code, seconds = office.portal.call(login_while_the_only_slot_is_busy)  # type: ignore[union-attr]
    assert (status, code) == (429, "login_busy")
    assert seconds < 1.0
    assert hasher.verifications == 1
