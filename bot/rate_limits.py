"""Sliding-window counters of the ``limits`` library, shared through Redis by every process.

Used by the visitor limits (``bot/api/visitor_limits.py``) and the business actions' failed-lookup
limits (``bot/actions/lookup_limits.py``). A failing Redis never switches a limit off: the counts
fall back to this process's memory for ``STORAGE_RETRY_SECONDS`` and Redis is tried again after.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

log = logging.getLogger(__name__)

MEMORY = "memory://"
STORAGE_RETRY_SECONDS = 30.0
R = TypeVar("R")


class SharedCounters:
    """Counters in ``storage_uri`` (``memory://`` or a Redis URL), with this process's memory as
    the fallback while the shared store fails."""

    def __init__(self, storage_uri: str = MEMORY, key_prefix: str = "") -> None:
        self._shared = sliding_window_limiter(storage_uri, key_prefix) if storage_uri != MEMORY else None
        self._memory = sliding_window_limiter(MEMORY)
        self._shared_down_until = 0.0

    async def count(self, operation: Callable[[SlidingWindowCounterRateLimiter], Awaitable[R]]) -> R:
        """``operation`` on the shared counters, or on this process's while they are down."""
        if self._shared is None or time.monotonic() < self._shared_down_until:
            return await operation(self._memory)
        try:
            return await operation(self._shared)
        except StorageError as error:
            # Never run without limits: count in this process until the shared store is back.
            log.warning(
                "rate-limit storage failed (%s); counting in memory for %.0f s", error, STORAGE_RETRY_SECONDS
            )
            self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            return await operation(self._memory)


def sliding_window_limiter(storage_uri: str, key_prefix: str = "") -> SlidingWindowCounterRateLimiter:
    options: dict[str, float | str | bool] = {"wrap_exceptions": True}
    if storage_uri.startswith(("redis://", "rediss://")):
        # redis-py's asyncio client (limits defaults to coredis, which is not installed).
        options["implementation"] = "redispy"
        options["key_prefix"] = key_prefix
        # A Redis that does not answer must cost a message a second at most, then memory counts.
        options["socket_timeout"] = options["socket_connect_timeout"] = 1.0
    storage = storage_from_string(f"async+{storage_uri}", **options)
    return SlidingWindowCounterRateLimiter(storage)  # type: ignore[arg-type]
