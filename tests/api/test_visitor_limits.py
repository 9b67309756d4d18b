"""The visitor limits over the ``limits`` library: in memory, on a real Redis, and when Redis fails."""

from __future__ import annotations

import uuid

import anyio
import pytest
import redis

from bot.api.visitor_limits import SocketLimits, VisitorLimits
from bot.config import Settings
from bot.errors import TooManyRequests

REDIS_URL = "redis://127.0.0.1:6379/15"
UNREACHABLE_REDIS = "redis://127.0.0.1:1"


def small(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "chat_messages_per_minute": 3,
            "chat_conversation_messages_per_minute": 4,
            "chat_new_conversations_per_ip_per_hour": 2,
            "chat_conversation_bytes_per_day": 1024,
            "chat_refusals_before_close": 3,
        }
    )


def outcomes(socket: SocketLimits, conversation: str, texts: list[str]) -> list[str]:
    async def run() -> list[str]:
        results = []
        for text in texts:
            try:
                await socket.admit_message(conversation, text)
                results.append("ok")
            except TooManyRequests as refused:
                assert refused.retry_after >= 1
                results.append(refused.code)
        return results

    return anyio.run(run)


@pytest.fixture
def redis_server() -> str:
    """The Redis server (database 15); unreachable fails the test: CI runs one."""
    redis.Redis.from_url(REDIS_URL).ping()
    return REDIS_URL


@pytest.mark.parametrize("storage", ["memory://", "redis"])
def test_a_socket_gets_its_messages_a_minute_then_rate_limited(
    base_settings: Settings, storage: str, request: pytest.FixtureRequest
) -> None:
    uri = storage if storage == "memory://" else request.getfixturevalue("redis_server")
    limits = VisitorLimits(small(base_settings), uri)
    socket = limits.for_socket("192.0.2.1")
    conversation = uuid.uuid4().hex
    assert outcomes(socket, conversation, ["hi"] * 5) == ["ok"] * 3 + ["rate_limited"] * 2


def test_a_conversation_is_limited_over_all_its_sockets(base_settings: Settings) -> None:
    limits = VisitorLimits(small(base_settings))
    conversation = uuid.uuid4().hex
    first, second = limits.for_socket("192.0.2.1"), limits.for_socket("192.0.2.2")
    assert outcomes(first, conversation, ["hi"] * 3) == ["ok"] * 3
    assert outcomes(second, conversation, ["hi"] * 2) == ["ok", "rate_limited"]


def test_stored_bytes_per_conversation_are_capped(base_settings: Settings) -> None:
    limits = VisitorLimits(small(base_settings).model_copy(update={"chat_messages_per_minute": 100}))
    conversation = uuid.uuid4().hex
    socket = limits.for_socket("192.0.2.1")
    # 400 + 400 bytes fit in 1024; the third does not, and a short one still fits after it.
    assert outcomes(socket, conversation, ["x" * 400, "é" * 200, "x" * 400, "x" * 10]) == [
        "ok",
        "ok",
        "conversation_quota",
        "ok",
    ]


def test_new_conversations_are_counted_per_address(base_settings: Settings) -> None:
    limits = VisitorLimits(small(base_settings))

    async def start(address: str) -> str:
        try:
            await limits.for_socket(address).admit_new_conversation()
        except TooManyRequests as refused:
            return refused.code
        return "ok"

    async def run() -> list[str]:
        return [await start("192.0.2.1") for _ in range(3)] + [await start("192.0.2.9")]

    assert anyio.run(run) == ["ok", "ok", "too_many_conversations", "ok"]


def test_refusals_in_a_row_exhaust_a_socket_and_an_accepted_message_resets_them(
    base_settings: Settings,
) -> None:
    limits = VisitorLimits(small(base_settings).model_copy(update={"chat_messages_per_minute": 100}))
    socket = limits.for_socket("192.0.2.1")
    conversation = uuid.uuid4().hex
    outcomes(socket, conversation, ["x" * 1000])
    outcomes(socket, conversation, ["x" * 100] * 2)
    assert socket.refusals_in_a_row == 2 and not socket.exhausted
    assert outcomes(socket, conversation, ["x"]) == ["ok"]
    assert socket.refusals_in_a_row == 0
    outcomes(socket, conversation, ["x" * 100] * 3)
    assert socket.exhausted


def test_a_failing_redis_falls_back_to_limits_in_memory(
    base_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    limits = VisitorLimits(small(base_settings), UNREACHABLE_REDIS)
    socket = limits.for_socket("192.0.2.1")
    assert outcomes(socket, uuid.uuid4().hex, ["hi"] * 5) == ["ok"] * 3 + ["rate_limited"] * 2
    assert "counting in memory" in caplog.text
