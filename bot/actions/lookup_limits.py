"""How many lookups that found nothing a conversation and an address may make.

A lookup needs two factors (an order number and its e-mail or postcode); limiting the misses
makes guessing either one hopeless. Counted with the ``limits`` library like the visitor limits
(``bot/api/visitor_limits.py``): in process memory, or in Redis shared by every process.
"""

from __future__ import annotations

import logging

from limits import RateLimitItemPerHour
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

log = logging.getLogger(__name__)
MEMORY = "memory://"


class FailedLookups:
    def __init__(
        self, per_conversation: int, per_address: int, storage_uri: str = MEMORY, key_prefix: str = ""
    ) -> None:
        self.per_conversation = RateLimitItemPerHour(per_conversation)
        self.per_address = RateLimitItemPerHour(per_address)
        self._memory = _limiter(MEMORY)
        self._shared = _limiter(storage_uri, key_prefix) if storage_uri != MEMORY else None

    async def allowed(self, conversation_id: str, address: str | None) -> bool:
        """Whether another lookup may go out (one more miss would still be within the limits)."""
        limiter = self._shared or self._memory
        try:
            return await self._test(limiter, conversation_id, address)
        except StorageError as error:
            log.warning("failed-lookup counts unavailable in the shared store (%s); using memory", error)
            return await self._test(self._memory, conversation_id, address)

    async def record_miss(self, conversation_id: str, address: str | None) -> None:
        limiter = self._shared or self._memory
        try:
            await self._hit(limiter, conversation_id, address)
        except StorageError:
            await self._hit(self._memory, conversation_id, address)

    async def _test(
        self, limiter: SlidingWindowCounterRateLimiter, conversation_id: str, address: str | None
    ) -> bool:
        if not await limiter.test(self.per_conversation, "lookup-miss-conversation", conversation_id):
            return False
        return not address or await limiter.test(self.per_address, "lookup-miss-address", address)

    async def _hit(
        self, limiter: SlidingWindowCounterRateLimiter, conversation_id: str, address: str | None
    ) -> None:
        await limiter.hit(self.per_conversation, "lookup-miss-conversation", conversation_id)
        if address:
            await limiter.hit(self.per_address, "lookup-miss-address", address)


def _limiter(storage_uri: str, key_prefix: str = "") -> SlidingWindowCounterRateLimiter:
    options: dict[str, float | str | bool] = {"wrap_exceptions": True}
    if storage_uri.startswith(("redis://", "rediss://")):
        options["implementation"] = "redispy"
        options["key_prefix"] = key_prefix
        options["socket_timeout"] = options["socket_connect_timeout"] = 1.0
    storage = storage_from_string(f"async+{storage_uri}", **options)
    return SlidingWindowCounterRateLimiter(storage)  # type: ignore[arg-type]
