"""Keep password guessing from costing the chat its CPU, and from locking real staff out.

Three walls, in the order a login meets them:

1. **Per address**, before any hashing: at most ``attempts_per_minute`` logins per client address
   (a sliding window from the ``limits`` library), so random usernames get no free argon2 work.
2. **Per (address, username)**, growing delays: after ``FREE_FAILURES`` wrong passwords the next
   try must wait 1 s, then 2, 4, ... up to ``backoff_max_seconds``. A fixed lockout (5 failures,
   300 s) let anyone on an office's shared address lock a colleague out; a delay only slows
   guessing to one try per ``backoff_max_seconds`` while the real user gets in within a minute.
With ``BOT_REDIS_URL`` the per-address counts live in Redis, so every server process shares
them; if Redis fails they are counted in this process for ``STORAGE_RETRY_SECONDS`` (never not at
all) and Redis is tried again after that.

3. **A bounded hashing pool**: at most ``hash_slots`` verifications run at once (each is ~0.2 s
   of a core); a login waits up to ``hash_wait_seconds`` for a slot, asynchronously so waiting
   logins hold no worker thread, and is refused with ``login_busy`` after that.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from bot.config import Settings
from bot.errors import TooManyRequests

FREE_FAILURES = 3
# Failures older than this are forgotten: the delay starts again from nothing.
FORGET_AFTER_SECONDS = 3600.0
# The failure table is swept for forgotten entries when it grows past this many.
SWEEP_AT = 10_000
# After a shared-storage failure, count in this process this long before trying Redis again.
STORAGE_RETRY_SECONDS = 30.0
# Login runs on the event loop: a Redis that does not answer may cost it this long, once a retry.
REDIS_TIMEOUT_SECONDS = 0.5

logger = logging.getLogger(__name__)


@dataclass
class _Failures:
    count: int
    last: float


class LoginGuard:
    def __init__(
        self,
        attempts_per_minute: int = 10,
        backoff_max_seconds: float = 60.0,
        hash_slots: int = 1,
        hash_wait_seconds: float = 2.0,
        redis_url: str | None = None,
        redis_prefix: str = "",
    ) -> None:
        self.attempts = RateLimitItemPerMinute(attempts_per_minute)
        self.address_limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared_limiter: SlidingWindowCounterRateLimiter | None = None
        if redis_url:
            storage = RedisStorage(
                redis_url,
                key_prefix=f"{redis_prefix}limits",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._shared_limiter = SlidingWindowCounterRateLimiter(storage)
        self._shared_down_until = 0.0
        self.backoff_max_seconds = backoff_max_seconds
        self.hash_slots = hash_slots
        self.hash_wait_seconds = hash_wait_seconds
        self._slots: anyio.Semaphore | None = None
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginGuard:
        return cls(
            settings.login_attempts_per_ip_per_minute,
            settings.login_backoff_max_seconds,
            settings.login_hash_concurrency,
            settings.login_hash_wait_seconds,
            settings.redis_url,
            settings.redis_prefix,
        )

    def admit(self, address: str, username: str) -> None:
        """Count an attempt; raises ``TooManyRequests`` when it must not reach the password check."""
        wait = self.delay_seconds(address, username)
        if wait > 0:
            raise TooManyRequests(
                "too_many_attempts",
                f"too many failed logins; try again in {_whole(wait)} seconds",
                retry_after=_whole(wait),
            )
        address_wait = self._address_wait(address)
        if address_wait is not None:
            raise TooManyRequests(
                "too_many_logins",
                f"too many logins from your address; try again in {_whole(address_wait)} seconds",
                retry_after=_whole(address_wait),
            )

    def _address_wait(self, address: str) -> float | None:
        """Count a login from ``address``: None if allowed, else the seconds to wait."""
        shared = self._shared_limiter
        if shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return _hit(shared, self.attempts, address)
            except StorageError as error:
                logger.warning(
                    "login throttle storage failed (%s); counting in this process for %.0f s",
                    error,
                    STORAGE_RETRY_SECONDS,
                )
                self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
        return _hit(self.address_limiter, self.attempts, address)

    def delay_seconds(self, address: str, username: str) -> float:
        """How long this address must still wait before trying this username (0: go ahead)."""
        with self._lock:
            failures = self._failures.get((address, username))
            if failures is None or failures.count < FREE_FAILURES:
                return 0.0
            delay = min(self.backoff_max_seconds, 2.0 ** (failures.count - FREE_FAILURES))
            return max(0.0, failures.last + delay - time.monotonic())

    def failed(self, address: str, username: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get((address, username))
            if failures is None or now - failures.last > FORGET_AFTER_SECONDS:
                failures = self._failures[(address, username)] = _Failures(0, now)
            failures.count += 1
            failures.last = now
            if len(self._failures) > SWEEP_AT:
                self._sweep(now)

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop((address, username), None)

    @asynccontextmanager
    async def hashing_slot(self) -> AsyncIterator[None]:
        """One of the pool's verification slots, or ``TooManyRequests`` (login_busy) after the wait."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self.hash_slots)
        acquired = False
        with anyio.move_on_after(self.hash_wait_seconds):
            await self._slots.acquire()
            acquired = True
        if not acquired:
            raise TooManyRequests(
                "login_busy", "the server is busy with other logins; try again", retry_after=1
            )
        try:
            yield
        finally:
            self._slots.release()

    def _sweep(self, now: float) -> None:
        stale = [
            key for key, failures in self._failures.items() if now - failures.last > FORGET_AFTER_SECONDS
        ]
        for key in stale:
            del self._failures[key]


def _hit(
    limiter: SlidingWindowCounterRateLimiter, item: RateLimitItemPerMinute, address: str
) -> float | None:
    if limiter.hit(item, "login", address):
        return None
    reset = limiter.get_window_stats(item, "login", address).reset_time
    return max(1.0, reset - time.time())


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds))
