"""Follow the adapter registry in a running server: promotions, rollbacks and shadow candidates
of the intent model, and promotions of the shop-adapted retriever.

The new classifier is loaded (and its files verified) in a worker thread while the old one
keeps answering; then the slot is switched in one assignment. A turn already running keeps
the classifier it started with. A version that fails to load is logged and skipped until the
registry names another one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from anyio import to_thread
from sentence_transformers import SentenceTransformer
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.engine import ClassifierSlot, ShadowSlot
from bot.db.models import AdapterVersion
from bot.intents import registry, store
from bot.intents.classifier import Classifier
from bot.retrieval.index import KnowledgeIndex

log = logging.getLogger(__name__)

Loader = Callable[[AdapterVersion], Classifier]
QueryEncoderLoader = Callable[[AdapterVersion], SentenceTransformer]


class RetrieverFollower:
    """Serve the retriever adapter the registry has in production: its query encoder replaces
    the index's in one assignment (a search already running keeps the one it started with; the
    engine rebuilds its shared lower-layer pass for the new one). The articles' vectors stay:
    the adapter changes only how queries are embedded."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        index: KnowledgeIndex,
        serving: store.AdapterRef | None,
        loader: QueryEncoderLoader,
    ) -> None:
        self.factory = factory
        self.index = index
        self.loader = loader
        self.serving = serving.id if serving is not None else None
        self._failed: set[str] = set()

    async def check_once(self) -> None:
        production = await to_thread.run_sync(registry.production, self.factory, registry.RETRIEVER)
        if production is None or production.id == self.serving or production.id in self._failed:
            return
        try:
            encoder = await to_thread.run_sync(self.loader, production)
        except Exception:  # noqa: BLE001 - a broken or tampered version must not stop serving
            self._failed.add(production.id)
            log.exception("retriever %s could not be loaded; still serving the previous one", production.id)
            return
        self.index.query_encoder = encoder
        self.serving = production.id
        log.info("now embedding queries with retriever adapter %s", production.id)


class AdapterWatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        slot: ClassifierSlot,
        shadow: ShadowSlot,
        loader: Loader,
        retriever: RetrieverFollower | None = None,
    ) -> None:
        self.factory = factory
        self.slot = slot
        self.shadow = shadow
        self.loader = loader
        self.retriever = retriever
        self._failed: set[str] = set()

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # noqa: BLE001 - the watcher must outlive a bad poll (DB restart, ...)
                log.exception("adapter registry check failed")
            await anyio.sleep(interval)

    async def check_once(self) -> None:
        production = await to_thread.run_sync(registry.production, self.factory)
        if production is not None and production.id != self.slot.current.version:
            loaded = await self._load(production)
            if loaded is not None:
                self.slot.current = loaded
                log.info("now serving adapter %s", production.id)
        candidate = await to_thread.run_sync(registry.shadow_candidate, self.factory)
        shadow_version = self.shadow.current.version if self.shadow.current else None
        if candidate is None:
            self.shadow.current = None
        elif candidate.id != shadow_version:
            self.shadow.current = await self._load(candidate)
        if self.retriever is not None:
            await self.retriever.check_once()

    async def _load(self, row: AdapterVersion) -> Classifier | None:
        if row.id in self._failed:
            return None
        try:
            return await to_thread.run_sync(self.loader, row)
        except Exception:  # noqa: BLE001 - a broken or tampered version must not stop serving
            self._failed.add(row.id)
            log.exception("adapter %s could not be loaded; still serving the previous one", row.id)
            return None
