"""In-process publish/subscribe of live conversation events.

Customer sockets and staff sockets each own an ``Inbox`` and subscribe it to topics: one per
conversation, one for all staff (queue changes), one per staff session and one per staff
account (so logging out or disabling an account can close that person's sockets). Publishing
never blocks: an inbox that falls too far behind is marked overflowed and its socket closes,
so one stuck browser cannot slow the chat down.

``Hub`` is the interface and its in-process implementation (the default: one server process).
``bot.chat.redis_hub.RedisHub`` extends it so that events published in any process reach the
subscribed inboxes of every process (``BOT_REDIS_URL``). The events are the typed models of
``bot.wire.live``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from bot.wire.live import LiveEvent

STAFF_TOPIC = "staff"
INBOX_SIZE = 1000


def conversation_topic(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def session_topic(session_id: int) -> str:
    return f"session:{session_id}"


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


class InboxOverflow(Exception):
    pass


class Inbox:
    """Events waiting for one socket."""

    def __init__(self, size: int = INBOX_SIZE) -> None:
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)
        self.overflowed = False

    def put(self, event: LiveEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> LiveEvent:
        if self.overflowed:
            raise InboxOverflow("the socket fell too far behind")
        return await self._queue.get()


class Hub:
    """Topics and their subscribed inboxes, in this process."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Inbox]] = defaultdict(set)

    @property
    def redis_state(self) -> str:
        """``off``: events stay in this process (``ok`` / ``down`` for a hub that shares them)."""
        return "off"

    async def run(self) -> None:
        """Background work while the server runs (none in process); cancel to stop."""

    def subscribe(self, topic: str, inbox: Inbox) -> None:
        self._subscribers[topic].add(inbox)

    def unsubscribe(self, topic: str, inbox: Inbox) -> None:
        inboxes = self._subscribers.get(topic)
        if inboxes is None:
            return
        inboxes.discard(inbox)
        if not inboxes:
            del self._subscribers[topic]

    def unsubscribe_all(self, inbox: Inbox) -> None:
        for topic in [topic for topic, inboxes in self._subscribers.items() if inbox in inboxes]:
            self.unsubscribe(topic, inbox)

    def publish(self, topic: str, event: LiveEvent, origin: Inbox | None = None) -> int:
        """Deliver to every subscriber but ``origin`` without blocking; returns how many in this
        process got it."""
        return self.deliver(topic, event, origin)

    def deliver(self, topic: str, event: LiveEvent, origin: Inbox | None = None) -> int:
        """Put ``event`` in this process's inboxes of ``topic`` (but ``origin``'s)."""
        delivered = 0
        for inbox in list(self._subscribers.get(topic, ())):
            if inbox is not origin:
                inbox.put(event)
                delivered += 1
        return delivered

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))
