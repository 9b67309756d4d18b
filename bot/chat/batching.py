"""Micro-batching: model calls from different conversations share one forward pass.

A batcher runs at most one batch at a time, in a worker thread, so the event loop never
waits for a model. Calls that arrive while a batch runs queue up and all go into the next
one; that is where the batches come from under load. An idle batcher runs a new call at
once, or after a short window when one is set, so a customer alone waits for nothing.

Each call carries a key (the classifier instance that must answer it) and one batch only
ever holds calls of one key: a classifier swapped in mid-way never shares a batch with the
one it replaces, and every call is answered by the model it asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.chat.shared_pass import SharedPass, TurnInference, TurnQuery
from bot.intents.classifier import Classifier
from bot.intents.model import Prediction
from bot.retrieval.index import Hit, KnowledgeIndex

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


class BatcherClosedError(RuntimeError):
    """The batcher was shut down before this call could run."""


@dataclass
class _Call(Generic[K, T, R]):
    key: K
    item: T
    future: asyncio.Future[R]


class MicroBatcher(Generic[K, T, R]):
    """Collects ``submit(key, item)`` calls and answers them with ``run_batch(key, items)``.

    ``run_batch`` runs in ``executor`` and must return one result per item, in order. If it
    raises, each item of the batch runs again alone, and only the calls that fail alone get the
    exception; later batches still run.
    """

    def __init__(
        self,
        run_batch: Callable[[K, list[T]], Sequence[R]],
        executor: Executor,
        window_s: float = 0.0,
        max_size: int = 64,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.run_batch = run_batch
        self.executor = executor
        self.window_s = window_s
        self.max_size = max_size
        self._pending: list[_Call[K, T, R]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self._window_cut: asyncio.Future[None] | None = None
        self._closed = False

    async def submit(self, key: K, item: T) -> R:
        if self._closed:
            raise BatcherClosedError("the batcher is shut down")
        loop = asyncio.get_running_loop()
        call: _Call[K, T, R] = _Call(key, item, loop.create_future())
        self._pending.append(call)
        if len(self._pending) >= self.max_size and self._window_cut and not self._window_cut.done():
            self._window_cut.set_result(None)
        drain = self._drain_task
        if drain is None or drain.done() or drain.get_loop() is not loop:
            self._drain_task = loop.create_task(self._drain())
        return await call.future

    def close(self) -> None:
        """Refuse new calls and fail the waiting ones; a batch already running still finishes."""
        self._closed = True
        self._fail([*self._pending], BatcherClosedError("the batcher was shut down"))
        self._pending.clear()

    async def _drain(self) -> None:
        try:
            await self._wait_for_company()
            while self._pending:
                await self._run(self._take_batch())
        except asyncio.CancelledError:
            self._fail([*self._pending], BatcherClosedError("the batcher was cancelled"))
            self._pending.clear()
            raise
        finally:
            if self._drain_task is asyncio.current_task():
                self._drain_task = None

    async def _wait_for_company(self) -> None:
        if self.window_s <= 0 or len(self._pending) >= self.max_size:
            return
        self._window_cut = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._window_cut], timeout=self.window_s)
        finally:
            self._window_cut = None

    def _take_batch(self) -> list[_Call[K, T, R]]:
        """The oldest call and the calls after it with the same key, up to ``max_size``."""
        key = self._pending[0].key
        batch: list[_Call[K, T, R]] = []
        rest: list[_Call[K, T, R]] = []
        for call in self._pending:
            if call.key is key and len(batch) < self.max_size:
                batch.append(call)
            else:
                rest.append(call)
        self._pending = rest
        return batch

    async def _run(self, batch: list[_Call[K, T, R]]) -> None:
        # A caller that gave up (its customer disconnected) is not worth a forward pass.
        live = [call for call in batch if not call.future.done()]
        if not live:
            return
        loop = asyncio.get_running_loop()
        items = [call.item for call in live]
        try:
            results = await loop.run_in_executor(self.executor, self.run_batch, live[0].key, items)
            if len(results) != len(live):
                raise RuntimeError(f"a batch of {len(live)} items returned {len(results)} results")
        except asyncio.CancelledError:
            self._fail(live, BatcherClosedError("the batcher was cancelled"))
            raise
        except Exception as error:  # noqa: BLE001 - every waiting caller must hear about any failure
            if len(live) == 1:
                self._fail(live, error)
                return
            # One bad item must not fail the other customers' turns: each runs again alone, and
            # only the call whose item fails by itself hears about the error.
            log.warning("a batch of %d failed (%s); running its items one by one", len(live), error)
            for call in live:
                await self._run([call])
            return
        for call, result in zip(live, results, strict=True):
            if not call.future.done():
                call.future.set_result(result)

    @staticmethod
    def _fail(calls: list[_Call[K, T, R]], error: BaseException) -> None:
        for call in calls:
            if not call.future.done():
                call.future.set_exception(error)


@dataclass(frozen=True)
class _Query:
    text: str
    top_k: int


def _classify(classifier: Classifier, texts: list[str]) -> list[Prediction]:
    return classifier.classify(texts)


def _search(index: KnowledgeIndex, queries: list[_Query]) -> list[list[Hit]]:
    # One search at the largest top_k serves every query: the best k articles are a prefix of
    # the best k' >= k.
    deepest = max(query.top_k for query in queries)
    results = index.search_many([query.text for query in queries], deepest)
    return [hits[: query.top_k] for hits, query in zip(results, queries, strict=True)]


def _infer(shared: SharedPass, queries: list[TurnQuery]) -> list[TurnInference]:
    return shared.run(queries)


class InferenceBatchers:
    """Batching for both models a turn asks: the intent classifier and the retriever's encoder,
    each on its own or (``turns``) both in one pass that shares their lower layers.

    One worker thread runs both, so their forward passes take turns on the cores instead of
    fighting over them.
    """

    def __init__(self, window_ms: float = 0.0, max_size: int = 64) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        window_s = window_ms / 1000
        self.intents: MicroBatcher[Classifier, str, Prediction] = MicroBatcher(
            _classify, self.executor, window_s, max_size
        )
        self.knowledge: MicroBatcher[KnowledgeIndex, _Query, list[Hit]] = MicroBatcher(
            _search, self.executor, window_s, max_size
        )
        # Keyed by the shared pass, which belongs to one classifier: no batch mixes adapters.
        self.turns: MicroBatcher[SharedPass, TurnQuery, TurnInference] = MicroBatcher(
            _infer, self.executor, window_s, max_size
        )

    async def classify(self, classifier: Classifier, text: str) -> Prediction:
        return await self.intents.submit(classifier, text)

    async def search(self, index: KnowledgeIndex, text: str, top_k: int) -> list[Hit]:
        return await self.knowledge.submit(index, _Query(text, top_k))

    async def infer(self, shared: SharedPass, query: TurnQuery) -> TurnInference:
        return await self.turns.submit(shared, query)

    def close(self) -> None:
        self.intents.close()
        self.knowledge.close()
        self.turns.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
