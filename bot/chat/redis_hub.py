"""The hub across processes and hosts: every event also goes through one Redis stream.

Why a stream (``XADD`` / ``XREAD``) and not ``PUBLISH`` / ``SUBSCRIBE``: pub/sub forgets whatever
is published while a subscriber's connection is down, so a process that lost Redis for a second
would silently miss an agent's message for its customer. A stream keeps the last
``STREAM_LENGTH`` events; each process reads from the last entry it saw, so after a reconnect it
delivers exactly what it missed, once, in the order Redis accepted them (one stream, so one order
for every topic).

Publishing never blocks the caller: the event goes to this process's subscribers at once (the
in-process hub) and into an outbox that one background task writes to Redis in order, in
pipelined batches. While Redis is down the outbox keeps up to ``OUTBOX_SIZE`` events (the oldest
are dropped beyond that, and counted in the log) and is written when Redis returns. Each process
skips the entries it wrote itself, so a subscriber never gets an event twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from bot.chat.hub import Hub, Inbox
from bot.redis_link import RedisLink
from bot.wire.live import LIVE_EVENT, LiveEvent

log = logging.getLogger(__name__)

STREAM_LENGTH = 100_000  # ~300 bytes an event: about 30 MB of Redis memory at most
OUTBOX_SIZE = 10_000
BATCH_SIZE = 200
READ_BLOCK_MS = 500
BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0


class RedisHub(Hub):
    def __init__(self, link: RedisLink) -> None:
        super().__init__()
        self.link = link
        self.stream = link.key("hub", "events")
        self.process_id = uuid.uuid4().hex
        # (number, payload): the numbers let the writer drop exactly what it wrote, even when
        # the oldest entries were dropped meanwhile to keep the outbox bounded.
        self._outbox: deque[tuple[int, bytes]] = deque()
        self._published = 0
        self._outbox_ready = asyncio.Event()
        self._dropped = 0
        # Set once this process has read the stream's position; None until Redis first answers.
        self._last_id: str | None = None
        self.reading = asyncio.Event()

    @property
    def redis_state(self) -> str:
        return self.link.state

    def publish(self, topic: str, event: LiveEvent, origin: Inbox | None = None) -> int:
        delivered = self.deliver(topic, event, origin)
        if len(self._outbox) >= OUTBOX_SIZE:
            self._outbox.popleft()
            self._dropped += 1
        self._published += 1
        self._outbox.append((self._published, self._encode(topic, event)))
        self._outbox_ready.set()
        return delivered

    async def run(self) -> None:
        """Write the outbox and read the stream until cancelled."""
        writer = asyncio.create_task(self._write_outbox())
        try:
            await self._read_stream()
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _write_outbox(self) -> None:
        backoff = BACKOFF_START_SECONDS
        while True:
            if not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            batch = [self._outbox[index] for index in range(min(BATCH_SIZE, len(self._outbox)))]
            try:
                async with self.link.client.pipeline(transaction=False) as pipe:
                    for _, payload in batch:
                        pipe.xadd(self.stream, {"e": payload}, maxlen=STREAM_LENGTH, approximate=True)
                    await pipe.execute()
            except (RedisError, OSError) as error:
                self.link.failed("publishing live events", error)
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_SECONDS, backoff * 2)
                continue
            backoff = BACKOFF_START_SECONDS
            self.link.succeeded()
            written = batch[-1][0]
            while self._outbox and self._outbox[0][0] <= written:
                self._outbox.popleft()
            if self._dropped:
                log.warning("%d live events were dropped while Redis was down", self._dropped)
                self._dropped = 0

    async def _read_stream(self) -> None:
        backoff = BACKOFF_START_SECONDS
        while True:
            try:
                if self._last_id is None:
                    self._last_id = await self._stream_end()
                    self.reading.set()
                replies: Any = await self.link.reader.xread(
                    {self.stream: self._last_id}, count=BATCH_SIZE, block=READ_BLOCK_MS
                )
            except (RedisError, OSError) as error:
                self.link.failed("reading live events", error)
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_SECONDS, backoff * 2)
                continue
            backoff = BACKOFF_START_SECONDS
            self.link.succeeded()
            for _stream, entries in replies or ():
                for entry_id, fields in entries:
                    self._last_id = _text(entry_id)
                    self._receive(fields.get(b"e"))

    async def _stream_end(self) -> str:
        """The id of the stream's newest entry: this process starts reading after it."""
        newest: Any = await self.link.client.xrevrange(self.stream, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    def _encode(self, topic: str, event: LiveEvent) -> bytes:
        record = {"p": self.process_id, "t": topic, "e": event.model_dump(mode="json")}
        return json.dumps(record, separators=(",", ":")).encode()

    def _receive(self, payload: bytes | None) -> None:
        if payload is None:
            return
        try:
            record: dict[str, Any] = json.loads(payload)
            if record["p"] == self.process_id:
                return  # delivered in this process when it was published
            topic = record["t"]
            if self.subscriber_count(topic) == 0:
                return
            self.deliver(topic, LIVE_EVENT.validate_python(record["e"]))
        except (ValueError, KeyError, TypeError, ValidationError):
            log.warning("skipping a malformed live event in %s", self.stream)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
