"""The content a running process serves, kept in step with the database.

The chat reads replies from an in-memory ``ResponseBook`` and articles from its knowledge
index; both are swapped, never edited in place, so a turn in progress keeps what it started
with. A process picks up a change at once when it made the change itself (the route calls
``refresh``) and otherwise within one poll of the content revision, an integer read every
``BOT_CONTENT_POLL_SECONDS``. Only articles whose text changed are embedded again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.engine import ChatEngine
from bot.chat.responses import ResponseBook
from bot.content.files import ContentSet
from bot.content.store import ContentSnapshot, content_revision, load_snapshot

log = logging.getLogger(__name__)

# Called after articles were embedded again, with the content now indexed (to save a cache).
OnReindexed = Callable[[ContentSet], None]


class LiveContent:
    def __init__(
        self, factory: sessionmaker[Session], chat: ChatEngine, on_reindexed: OnReindexed | None = None
    ) -> None:
        self.factory = factory
        self.chat = chat
        self.on_reindexed = on_reindexed
        self.revision = -1
        self.content = ContentSet()
        self._lock = anyio.Lock()

    def apply(self, snapshot: ContentSnapshot) -> list[str]:
        """Serve ``snapshot`` (blocking: it may embed articles); returns the re-embedded ids."""
        reindexed = self.chat.index.sync_articles(snapshot.content.articles)
        self.chat.responses = ResponseBook(
            dict(snapshot.content.responses), actions=dict(snapshot.content.actions)
        )
        self.content, self.revision = snapshot.content, snapshot.revision
        if reindexed:
            log.info("content revision %d: re-embedded %s", snapshot.revision, ", ".join(reindexed))
            if self.on_reindexed is not None:
                self.on_reindexed(snapshot.content)
        return reindexed

    async def refresh(self) -> bool:
        """Load and serve the stored content if it changed; True when it did."""
        async with self._lock:
            if await to_thread.run_sync(content_revision, self.factory) == self.revision:
                return False
            snapshot = await to_thread.run_sync(load_snapshot, self.factory)
            await to_thread.run_sync(self.apply, snapshot)
            return True

    async def watch(self, interval: float) -> None:
        """Follow changes made by other processes, until cancelled."""
        while True:
            await anyio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - a bad poll (database restart, ...) must not stop serving
                log.exception("content check failed; still serving revision %d", self.revision)
