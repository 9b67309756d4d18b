"""How much an anonymous visitor may do: messages, new conversations and stored bytes.

One small interface over the ``limits`` library (sliding-window counters: O(1) memory per key,
in-process memory by default, Redis when several processes must share the counts). A failing
Redis never switches the limits off (``bot/rate_limits.py``: the counts fall back to this
process's memory for a while).

A refusal is a ``TooManyRequests`` carrying ``retry_after`` in seconds; the socket turns it into
an ``error`` frame and closes the socket after ``chat_refusals_before_close`` refusals in a row.
"""

from __future__ import annotations

import math
import time
import uuid

from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import HTTPConnection

from bot.api.deps import services_of
from bot.config import Settings
from bot.errors import TooManyRequests
from bot.rate_limits import MEMORY, SharedCounters

# Close codes: 1008 policy violation (kept sending past refusals), 1001 going away (idle; the
# widget reconnects), 4408 (an application code, after HTTP's 408): no hello in time.
REFUSALS_CLOSE = 1008
IDLE_CLOSE = 1001
HELLO_TIMEOUT_CLOSE = 4408
# "The customer is typing" reaches staff at most once per this many seconds per socket.
TYPING_EVERY_SECONDS = 2


class VisitorLimits:
    """The process's counters of what visitors did, keyed by socket, conversation and address."""

    def __init__(self, settings: Settings, storage_uri: str = MEMORY) -> None:
        self.messages_per_socket = RateLimitItemPerMinute(settings.chat_messages_per_minute)
        self.messages_per_conversation = RateLimitItemPerMinute(
            settings.chat_conversation_messages_per_minute
        )
        self.messages_per_address = RateLimitItemPerMinute(settings.chat_address_messages_per_minute)
        self.conversations_per_address = RateLimitItemPerHour(settings.chat_new_conversations_per_ip_per_hour)
        self.bytes_per_conversation = RateLimitItemPerDay(settings.chat_conversation_bytes_per_day)
        self.typing_per_socket = RateLimitItemPerSecond(1, TYPING_EVERY_SECONDS)
        self.refusals_before_close = settings.chat_refusals_before_close
        self.hello_timeout = settings.chat_hello_timeout_seconds
        self.idle_timeout = settings.chat_idle_timeout_seconds
        self.storage_uri = storage_uri
        # The keys of this deployment only.
        self.counters = SharedCounters(storage_uri, f"{settings.redis_prefix}limits")

    def for_socket(self, address: str) -> SocketLimits:
        return SocketLimits(self, address)

    async def hit(self, item: RateLimitItem, *keys: str, cost: int = 1) -> float | None:
        """Count ``cost`` against ``item`` for ``keys``: None if allowed, else seconds to wait."""
        return await self.counters.count(lambda limiter: _hit(limiter, item, keys, cost))


def visitor_limits_of(connection: HTTPConnection) -> VisitorLimits:
    """The app's visitor limits, made on first use (one per app, so tests do not share counts)."""
    state = connection.app.state
    if getattr(state, "visitor_limits", None) is None:
        settings = services_of(connection).settings
        # With Redis every server process shares the counts (README: Running several processes).
        state.visitor_limits = VisitorLimits(settings, settings.redis_url or MEMORY)
    limits: VisitorLimits = state.visitor_limits
    return limits


class SocketLimits:
    """One customer socket's view of the limits: its counts, refusals in a row and deadlines."""

    def __init__(self, limits: VisitorLimits, address: str) -> None:
        self.limits = limits
        self.address = address or "unknown"
        self.socket_key = uuid.uuid4().hex
        self.refusals_in_a_row = 0
        self.hello_deadline = time.monotonic() + limits.hello_timeout

    def receive_timeout(self, said_hello: bool) -> float:
        """How long to wait for the next frame: the idle timeout, or what is left of the time to
        say hello (counted from the accept, so frames other than hello do not extend it)."""
        if said_hello:
            return self.limits.idle_timeout
        return max(0.0, min(self.limits.idle_timeout, self.hello_deadline - time.monotonic()))

    @staticmethod
    def timeout_close(said_hello: bool) -> tuple[int, str]:
        """The close code and reason for a socket whose wait for a frame ran out."""
        return (IDLE_CLOSE, "idle") if said_hello else (HELLO_TIMEOUT_CLOSE, "no hello in time")

    @property
    def exhausted(self) -> bool:
        """True once the client kept sending past enough refusals: close the socket (1008)."""
        return self.refusals_in_a_row >= self.limits.refusals_before_close

    async def admit_message(self, conversation_id: str, text: str) -> None:
        """Count a customer message; raises ``TooManyRequests`` (nothing stored) over a limit."""
        limits = self.limits
        wait = await limits.hit(limits.messages_per_socket, "socket", self.socket_key)
        if wait is None:
            wait = await limits.hit(limits.messages_per_conversation, "conversation", conversation_id)
        if wait is None:
            wait = await limits.hit(limits.messages_per_address, "address", self.address)
        if wait is not None:
            self._refuse(
                "rate_limited", f"too many messages; wait {_seconds(wait)} s before sending more", wait
            )
        size = len(text.encode("utf-8", "surrogatepass"))
        wait = await limits.hit(limits.bytes_per_conversation, "bytes", conversation_id, cost=size)
        if wait is not None:
            self._refuse(
                "conversation_quota",
                "this conversation has stored as much text as it may today; please try again later",
                wait,
            )
        self.refusals_in_a_row = 0

    async def admit_hello(self) -> None:
        """Count a hello against the address's message budget: a resume reads and sends the
        conversation's backlog, so a script reconnecting in a loop must not get it for free."""
        wait = await self.limits.hit(self.limits.messages_per_address, "address", self.address)
        if wait is not None:
            self._refuse(
                "rate_limited", f"too many requests; wait {_seconds(wait)} s before reconnecting", wait
            )
        self.refusals_in_a_row = 0

    async def admit_typing(self) -> None:
        """Count a typing frame: one per ``TYPING_EVERY_SECONDS`` per socket (every further socket
        costs a hello from the address's message budget)."""
        limits = self.limits
        wait = await limits.hit(limits.typing_per_socket, "typing", self.socket_key)
        if wait is not None:
            self._refuse("rate_limited", f"typing frames at most every {TYPING_EVERY_SECONDS} s", wait)
        self.refusals_in_a_row = 0

    async def admit_new_conversation(self) -> None:
        """Count a conversation this address starts; raises ``TooManyRequests`` over the limit."""
        limits = self.limits
        wait = await limits.hit(limits.conversations_per_address, "new-conversation", self.address)
        if wait is not None:
            self._refuse(
                "too_many_conversations",
                f"too many new conversations from your address; try again in {_seconds(wait)} s",
                wait,
            )
        self.refusals_in_a_row = 0

    def _refuse(self, code: str, detail: str, wait: float) -> None:
        self.refusals_in_a_row += 1
        raise TooManyRequests(code, detail, retry_after=_seconds(wait))


async def _hit(
    limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, keys: tuple[str, ...], cost: int
) -> float | None:
    if await limiter.hit(item, *keys, cost=cost):
        return None
    stats = await limiter.get_window_stats(item, *keys)
    return max(1.0, stats.reset_time - time.time())


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
