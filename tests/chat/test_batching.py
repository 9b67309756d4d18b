"""Micro-batching against the shipped adapter: same answers as one at a time, errors, hot swaps."""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from bot.chat.batching import BatcherClosedError, InferenceBatchers, MicroBatcher
from bot.chat.engine import ChatEngine, ClassifierSlot, ThresholdSettings, Turn
from bot.config import PROJECT_ROOT
from bot.intents.classifier import Classifier, IntentClassifier
from bot.intents.model import Prediction
from bot.retrieval.index import Hit, KnowledgeIndex
from bot.services import Models

TIMEOUT_S = 60.0
T = TypeVar("T")


class RecordingClassifier:
    """The shipped classifier under a version name of its own; notes every batch it runs."""

    def __init__(self, inner: Classifier, version: str, pause_s: float = 0.0) -> None:
        self.inner = inner
        self.version = version
        self.labels = inner.labels
        self.pause_s = pause_s
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    @property
    def out_of_scope_threshold(self) -> float:
        return self.inner.out_of_scope_threshold

    def classify(self, texts: list[str]) -> list[Prediction]:
        with self._lock:
            self.batches.append(list(texts))
        time.sleep(self.pause_s)  # a slower model lets more calls queue behind each batch
        return self.inner.classify(texts)


class CrashingClassifier(RecordingClassifier):
    def classify(self, texts: list[str]) -> list[Prediction]:
        super().classify(texts)
        raise RuntimeError("the model crashed")


def run(awaitable: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(awaitable, TIMEOUT_S)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with (PROJECT_ROOT / "data" / "test.csv").open(encoding="utf-8") as file:
        return [row["text"] for row in csv.DictReader(file)][:48]


def make_engine(models: Models, classifier: Classifier, batchers: InferenceBatchers | None) -> ChatEngine:
    thresholds = ThresholdSettings(confidence=0.55, out_of_scope=None, retrieval=0.45, suggestions=3, top_k=3)
    return ChatEngine(ClassifierSlot(classifier), models.index, models.responses, thresholds, batchers)


# fp32 gives the same numbers whatever else shares the batch. bf16 keeps about three significant
# digits, and the padding a batch adds changes how its sums round: measured over the 416 shipped
# test utterances, the same intents and confidences at most 0.018 apart (batches of 16 and 64).
TOLERANCE = {"fp32": 1e-5, "bf16": 0.03}


def fp32(models: Models) -> IntentClassifier:
    assert isinstance(models.classifier, IntentClassifier)
    return models.classifier.with_precision("fp32")


def assert_same_predictions(
    got: list[Prediction], expected: list[Prediction], tolerance: float = TOLERANCE["fp32"]
) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.intent == theirs.intent
        assert mine.confidence == pytest.approx(theirs.confidence, abs=tolerance)
        assert [p for _, p in mine.top_k] == pytest.approx([p for _, p in theirs.top_k], abs=tolerance)
        if tolerance == TOLERANCE["fp32"]:  # under bf16 two near-equal alternatives may swap
            assert [name for name, _ in mine.top_k] == [name for name, _ in theirs.top_k]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_concurrent_callers_get_the_one_at_a_time_predictions(
    models: Models, texts: list[str], precision: str
) -> None:
    assert isinstance(models.classifier, IntentClassifier)
    classifier = models.classifier.with_precision(precision)
    recording = RecordingClassifier(classifier, "recording")
    alone = [classifier.classify([text])[0] for text in texts]
    batchers = InferenceBatchers(window_ms=50, max_size=16)

    async def everyone_at_once() -> list[Prediction]:
        return await asyncio.gather(*(batchers.classify(recording, text) for text in texts))

    try:
        batched = run(everyone_at_once())
    finally:
        batchers.close()
    assert_same_predictions(batched, alone, TOLERANCE[precision])
    assert max(len(batch) for batch in recording.batches) == 16
    assert len(recording.batches) == 3


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_batched_search_returns_each_query_its_own_hits(
    models: Models, texts: list[str], precision: str
) -> None:
    shared = models.index
    index = KnowledgeIndex(shared.encoder, shared.chunks, shared.vectors, bf16_queries=precision == "bf16")
    depths = [1 + i % 3 for i in range(len(texts))]
    alone = [index.search(text, depth) for text, depth in zip(texts, depths, strict=True)]
    batchers = InferenceBatchers(window_ms=50)

    async def everyone_at_once() -> list[list[Hit]]:
        calls = (batchers.search(index, t, d) for t, d in zip(texts, depths, strict=True))
        return list(await asyncio.gather(*calls))

    try:
        batched = run(everyone_at_once())
    finally:
        batchers.close()
    for mine, theirs in zip(batched, alone, strict=True):
        assert len(mine) == len(theirs)
        if precision == "fp32":  # in bf16 two articles with near-equal scores may swap places
            assert [hit.article_id for hit in mine] == [hit.article_id for hit in theirs]
        assert mine[0].article_id == theirs[0].article_id
        tolerance = TOLERANCE[precision]
        assert [hit.score for hit in mine] == pytest.approx([hit.score for hit in theirs], abs=tolerance)


def test_failing_batch_answers_every_waiting_caller_with_the_error(models: Models, texts: list[str]) -> None:
    crashing = CrashingClassifier(models.classifier, "broken")
    batchers = InferenceBatchers(window_ms=20)

    async def everyone_at_once() -> list[Prediction | BaseException]:
        return await asyncio.gather(
            *(batchers.classify(crashing, text) for text in texts[:10]), return_exceptions=True
        )

    async def afterwards() -> Prediction:
        return await batchers.classify(models.classifier, texts[0])

    try:
        outcomes = run(everyone_at_once())
        recovered = run(afterwards())
    finally:
        batchers.close()
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert {str(outcome) for outcome in outcomes} == {"the model crashed"}
    # Each failed batch of several is run again one by one before anyone hears of the error.
    singles = [batch for batch in crashing.batches if len(batch) == 1]
    assert sorted(text for [text] in singles) == sorted(texts[:10])
    assert recovered.intent == models.classifier.classify([texts[0]])[0].intent


def test_a_poisoned_item_fails_alone_and_every_other_item_of_its_batch_is_answered(
    models: Models, texts: list[str]
) -> None:
    # A lone surrogate makes the real tokenizer raise TypeError: the frame that once failed a
    # whole micro-batch of other customers' turns.
    classifier = RecordingClassifier(fp32(models), "shipped", pause_s=0.05)
    poison = "hi \ud800"
    batchers = InferenceBatchers(window_ms=20)
    honest = texts[:12]

    async def everyone_at_once() -> list[Prediction | BaseException]:
        calls = [batchers.classify(classifier, text) for text in honest]
        calls.insert(5, batchers.classify(classifier, poison))
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = run(everyone_at_once())
    finally:
        batchers.close()
    failed = outcomes.pop(5)
    assert isinstance(failed, TypeError)
    assert any(poison in batch and len(batch) > 1 for batch in classifier.batches)
    answered = [outcome for outcome in outcomes if isinstance(outcome, Prediction)]
    assert len(answered) == len(honest)
    assert_same_predictions(answered, fp32(models).classify(honest))


def test_a_batch_function_returning_too_few_results_fails_its_callers() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    batcher: MicroBatcher[str, int, int] = MicroBatcher(lambda _key, items: items[:-1], executor, 0.02)

    async def three_calls() -> list[int | BaseException]:
        return await asyncio.gather(*(batcher.submit("key", i) for i in range(3)), return_exceptions=True)

    try:
        outcomes = run(three_calls())
    finally:
        executor.shutdown()
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    # The batch's mistake repeats for each item run alone.
    assert "1 items returned 0 results" in str(outcomes[0])


def test_closing_fails_queued_calls_and_refuses_new_ones() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()

    def slow_batch(_key: str, items: list[int]) -> list[int]:
        release.wait(TIMEOUT_S)
        return items

    batcher: MicroBatcher[str, int, int] = MicroBatcher(slow_batch, executor)

    async def scenario() -> tuple[int | BaseException, ...]:
        running = asyncio.ensure_future(batcher.submit("key", 1))
        await asyncio.sleep(0.05)  # the first call is now in the worker; the next one must queue
        queued = asyncio.ensure_future(batcher.submit("key", 2))
        await asyncio.sleep(0)
        batcher.close()
        release.set()
        outcomes = await asyncio.gather(running, queued, return_exceptions=True)
        try:
            await batcher.submit("key", 3)
        except BatcherClosedError as error:
            return (*outcomes, error)
        return tuple(outcomes)

    try:
        running, queued, late = run(scenario())
    finally:
        executor.shutdown()
    assert running == 1
    assert isinstance(queued, BatcherClosedError)
    assert isinstance(late, BatcherClosedError)


def test_batching_off_gives_the_same_turns(models: Models, texts: list[str]) -> None:
    batchers = InferenceBatchers(window_ms=20)
    batched_engine = make_engine(models, fp32(models), batchers)
    plain_engine = make_engine(models, fp32(models), None)

    async def all_turns(engine: ChatEngine) -> list[Turn]:
        return await asyncio.gather(*(engine.respond(text) for text in texts[:24]))

    try:
        batched, plain = run(all_turns(batched_engine)), run(all_turns(plain_engine))
    finally:
        batchers.close()
    assert_same_predictions(
        [turn.prediction for turn in batched if turn.prediction],
        [turn.prediction for turn in plain if turn.prediction],
    )
    for mine, theirs in zip(batched, plain, strict=True):
        assert (mine.reply.action, mine.reply.intent, mine.reply.sources, mine.reply.suggestions) == (
            theirs.reply.action,
            theirs.reply.intent,
            theirs.reply.sources,
            theirs.reply.suggestions,
        )


def test_a_slot_swap_mid_way_never_mixes_classifiers_in_one_batch(models: Models, texts: list[str]) -> None:
    old = RecordingClassifier(models.classifier, "default/v1")
    new = RecordingClassifier(models.classifier, "default/v2")
    # A long window keeps the batcher waiting while both versions' turns queue up side by side.
    batchers = InferenceBatchers(window_ms=300, max_size=64)
    engine = make_engine(models, old, batchers)

    async def swap_during_traffic() -> list[Turn]:
        first = [asyncio.ensure_future(engine.respond(text)) for text in texts[:24]]
        await asyncio.sleep(0.01)  # the first turns have read the slot and wait for their batch
        engine.slot.current = new
        second = [asyncio.ensure_future(engine.respond(text)) for text in texts[24:]]
        return await asyncio.gather(*first, *second)

    try:
        turns = run(swap_during_traffic())
    finally:
        batchers.close()
    assert [turn.adapter_version for turn in turns] == ["default/v1"] * 24 + ["default/v2"] * 24
    assert old.batches == [texts[:24]]
    assert new.batches == [texts[24:]]
