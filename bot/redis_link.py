"""This process's connection to Redis (``BOT_REDIS_URL``) and what it last knew of it.

Redis carries what several server processes must share: live events (``bot.chat.redis_hub``),
the per-conversation turn lock (``bot.chat.turn_lock``) and the counters of the rate limits and
login throttles. None of these may stop a customer's turn: when Redis fails, each user falls back
to what one process can do alone and marks the link down, so ``/healthz`` reports it, and the
hub's subscriber keeps reconnecting with backoff until Redis answers again.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from redis.asyncio import Redis

log = logging.getLogger(__name__)

# Short timeouts: a Redis that does not answer must cost a turn milliseconds, not seconds.
SOCKET_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 1.0
# The hub's blocking reads wait up to half a second in Redis; a busy host may take longer to
# read the answer, which is no reason to call Redis down.
READER_TIMEOUT_SECONDS = 10.0
# After a failure, users skip Redis this long before trying again (the subscriber's reconnect
# clears it as soon as Redis is back).
RETRY_AFTER_SECONDS = 5.0

RedisState = Literal["ok", "down", "off"]


class RedisLink:
    """One client (a connection pool) per process; ``prefix`` namespaces every key and channel."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=15,
        )
        # Its own connection for the hub's blocking stream reads.
        self.reader: Redis = Redis.from_url(
            url,
            socket_timeout=READER_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=15,
        )
        self._down_since: float | None = None
        self._skip_until = 0.0

    @property
    def state(self) -> RedisState:
        return "ok" if self._down_since is None else "down"

    @property
    def usable(self) -> bool:
        """False for a while after a failure, so a dead Redis is not waited on at every turn."""
        return self._down_since is None or time.monotonic() >= self._skip_until

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def failed(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning("Redis failed (%s: %s); falling back to this process alone", what, error)
        self._skip_until = now + RETRY_AFTER_SECONDS

    def succeeded(self) -> None:
        if self._down_since is not None:
            log.info("Redis answers again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
            self._skip_until = 0.0

    async def close(self) -> None:
        await self.client.aclose()
        await self.reader.aclose()
