"""One turn at a time per conversation: in this process, and with Redis across processes.

A turn reads whether a customer message has its reply, runs the model and stores the reply; two
sockets resuming one conversation (or a retry racing its original) must not both do it, or the
customer is answered twice.

Across processes the lock is a Redis key per conversation (``SET NX PX``) holding a random token,
deleted only by its holder (compare-and-delete in one Lua script). Why Redis and not a
PostgreSQL advisory lock or ``SELECT ... FOR UPDATE``: those hold a database connection, and an
open transaction, for the whole model pass of every turn (and its batching window), so the pool
would run dry under load; a Redis lock costs two round trips (~0.2 ms) and no connection. Expiry
makes a dead process harmless: the holder renews the key every third of
``BOT_TURN_LOCK_SECONDS`` while it works, so a slow turn keeps its lock, and a killed process's
lock lapses within that time.

Redis down: the turn still runs, under this process's lock only (customers keep their answers);
the link is marked down for ``/healthz``. Only two processes answering the same unanswered turn at
the same moment, during the outage, could then both answer it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from bot.redis_link import RedisLink

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class TurnLocks:
    """This process's locks, one per conversation being answered (the default: one process)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _local(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        async with self._local(conversation_id):
            yield


class RedisTurnLocks(TurnLocks):
    """This process's lock first (so its own sockets queue without asking Redis), then Redis's."""

    def __init__(self, link: RedisLink, expiry_seconds: float) -> None:
        super().__init__()
        self.link = link
        self.expiry_ms = max(1, round(expiry_seconds * 1000))

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        async with self._local(conversation_id):
            key = self.link.key("turn", conversation_id)
            token = await self._acquire(key)
            renewer = asyncio.create_task(self._renew(key, token)) if token is not None else None
            try:
                yield
            finally:
                if renewer is not None and token is not None:
                    renewer.cancel()
                    await asyncio.gather(renewer, return_exceptions=True)
                    await self._release(key, token)

    async def _acquire(self, key: str) -> str | None:
        """The token of the held Redis lock; None when Redis cannot be used (this process's lock
        alone then). Waits while another process holds it: at most the expiry, if that one died."""
        token = secrets.token_hex(16)
        while self.link.usable:
            try:
                if await self.link.client.set(key, token, nx=True, px=self.expiry_ms):
                    self.link.succeeded()
                    return token
            except (RedisError, OSError) as error:
                self.link.failed("taking a turn lock", error)
                return None
            await asyncio.sleep(POLL_SECONDS)
        return None

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.expiry_ms / 3000)
            try:
                await self.link.client.eval(RENEW, 1, key, token, self.expiry_ms)
            except (RedisError, OSError) as error:
                self.link.failed("renewing a turn lock", error)

    async def _release(self, key: str, token: str) -> None:
        try:
            await self.link.client.eval(RELEASE, 1, key, token)
        except (RedisError, OSError) as error:
            # It lapses by itself within the expiry.
            self.link.failed("releasing a turn lock", error)
