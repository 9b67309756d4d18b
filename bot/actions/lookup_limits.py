"""How many lookups that found nothing a conversation and an address may make.

A lookup needs two factors (an order number and its e-mail or postcode); limiting the misses
makes guessing either one hopeless. Counted like the visitor limits (``bot/rate_limits.py``): in
process memory, or in Redis shared by every process, never without limits when Redis fails.
"""

from __future__ import annotations

from limits import RateLimitItemPerHour
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from bot.rate_limits import MEMORY, SharedCounters


class FailedLookups:
    def __init__(
        self, per_conversation: int, per_address: int, storage_uri: str = MEMORY, key_prefix: str = ""
    ) -> None:
        self.per_conversation = RateLimitItemPerHour(per_conversation)
        self.per_address = RateLimitItemPerHour(per_address)
        self.counters = SharedCounters(storage_uri, key_prefix)

    async def allowed(self, conversation_id: str, address: str | None) -> bool:
        """Whether another lookup may go out (one more miss would still be within the limits)."""
        return await self.counters.count(lambda limiter: self._test(limiter, conversation_id, address))

    async def record_miss(self, conversation_id: str, address: str | None) -> None:
        await self.counters.count(lambda limiter: self._hit(limiter, conversation_id, address))

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
