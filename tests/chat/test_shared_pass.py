"""The shared lower-layer pass against the two separate passes it replaces, and its fallbacks."""

from __future__ import annotations

import asyncio
import copy
import csv
from collections.abc import Callable
from typing import Any

import pytest
import torch

from bot.chat.batching import InferenceBatchers
from bot.chat.engine import ChatEngine, ClassifierSlot, ThresholdSettings, Turn
from bot.chat.shared_pass import SharedPass, TurnQuery, same_device, shared_pass_for
from bot.config import PROJECT_ROOT, Settings
from bot.intents import store
from bot.intents.classifier import IntentClassifier, load_classifier
from bot.intents.model import MAX_TOKENS, Prediction
from bot.retrieval.index import Hit, KnowledgeIndex
from bot.services import Models, loaded_base

# Measured over the 416 shipped test utterances in batches of 64: the shared pass gives the
# separate passes' probabilities exactly (0.0 apart) and hit scores at most 2.4e-7 apart in fp32
# and 1.8e-7 under bf16 autocast. The same messages in the same batch run the same kernels on
# the same inputs, so bf16 needs no wider tolerance than fp32 here; what moves bf16 results
# (0.018, tests/chat/test_batching.py) is a different batch, which this comparison holds fixed.
TOLERANCE = {"fp32": 1e-5, "bf16": 1e-5}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with (PROJECT_ROOT / "data" / "test.csv").open(encoding="utf-8") as file:
        return [row["text"] for row in csv.DictReader(file)]


def in_precision(models: Models, precision: str) -> tuple[IntentClassifier, KnowledgeIndex]:
    assert isinstance(models.classifier, IntentClassifier)
    index = models.index.copy()
    index.bf16_queries = precision == "bf16"
    return models.classifier.with_precision(precision), index


def assert_same_prediction(mine: Prediction, theirs: Prediction, tolerance: float) -> None:
    assert mine.intent == theirs.intent
    assert [name for name, _ in mine.top_k] == [name for name, _ in theirs.top_k]
    assert [p for _, p in mine.top_k] == pytest.approx([p for _, p in theirs.top_k], abs=tolerance)


def assert_same_hits(mine: list[Hit], theirs: list[Hit], tolerance: float) -> None:
    assert [hit.article_id for hit in mine] == [hit.article_id for hit in theirs]
    assert [hit.score for hit in mine] == pytest.approx([hit.score for hit in theirs], abs=tolerance)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_shared_pass_gives_what_the_two_separate_passes_give(
    models: Models, texts: list[str], precision: str
) -> None:
    classifier, index = in_precision(models, precision)
    shared = shared_pass_for(classifier, index)
    assert shared is not None
    assert shared.shared_layers == 3  # the shipped adapter adapts layers 3-5 of 6
    for start in range(0, 192, 64):
        chunk = texts[start : start + 64]
        got = shared.run([TurnQuery(text, 3, lambda _: True) for text in chunk])
        alone, hits = classifier.classify(chunk), index.search_many(chunk, 3)
        for inference, prediction, expected_hits in zip(got, alone, hits, strict=True):
            assert_same_prediction(inference.prediction, prediction, TOLERANCE[precision])
            assert inference.hits is not None
            assert_same_hits(inference.hits, expected_hits, TOLERANCE[precision])


def answer_is(wanted: bool) -> Callable[[Prediction], bool]:
    return lambda _: wanted


def test_the_retriever_stack_runs_only_for_messages_whose_reply_uses_hits(
    models: Models, texts: list[str]
) -> None:
    classifier, index = in_precision(models, "fp32")
    shared = shared_pass_for(classifier, index)
    assert shared is not None
    chunk = texts[:20]
    got = shared.run([TurnQuery(text, 2, answer_is(i % 2 == 0)) for i, text in enumerate(chunk)])
    expected = index.search_many(chunk, 2)
    for i, inference in enumerate(got):
        if i % 2:
            assert inference.hits is None
        else:
            assert inference.hits is not None
            assert_same_hits(inference.hits, expected[i], TOLERANCE["fp32"])


def test_a_message_longer_than_the_intent_model_reads_gets_its_own_truncated_pass(
    models: Models, texts: list[str]
) -> None:
    classifier, index = in_precision(models, "fp32")
    shared = shared_pass_for(classifier, index)
    assert shared is not None
    long = " ".join(["my parcel never arrived and I want to know where it is"] * 12)
    assert len(classifier.tokenizer(long)["input_ids"]) > MAX_TOKENS
    chunk = [texts[0], long, texts[1]]
    got = shared.run([TurnQuery(text, 3, lambda _: True) for text in chunk])
    alone = classifier.classify(chunk)
    hits = index.search_many(chunk, 3)
    for inference, prediction, expected_hits in zip(got, alone, hits, strict=True):
        assert_same_prediction(inference.prediction, prediction, TOLERANCE["fp32"])
        assert inference.hits is not None
        assert_same_hits(inference.hits, expected_hits, TOLERANCE["fp32"])


def test_an_adapter_on_every_layer_falls_back_to_two_passes(models: Models, base_settings: Settings) -> None:
    ref = store.resolve(base_settings.adapter_dir, "default", "v1")
    assert store.read_json(ref.path / "adapter_config.json")["layers_to_transform"] is None
    every_layer = load_classifier(ref, "cpu", base=loaded_base(base_settings, models.index.encoder))
    assert shared_pass_for(every_layer, models.index) is None


def test_a_changed_lower_layer_or_another_precision_falls_back_to_two_passes(models: Models) -> None:
    classifier, index = in_precision(models, "fp32")
    network = copy.deepcopy(classifier.network)
    encoder: Any = network.encoder
    with torch.no_grad():
        encoder.encoder.layer[1].output.dense.weight[0, 0] += 0.5
    changed = IntentClassifier(
        network, classifier.tokenizer, classifier.labels, classifier.calibration, "changed", classifier.device
    )
    found = shared_pass_for(changed, index)
    assert found is not None and found.shared_layers == 1  # embeddings and layer 0 still agree
    with torch.no_grad():
        encoder.embeddings.word_embeddings.weight[0, 0] += 0.5
    assert shared_pass_for(changed, index) is None
    bf16_index = models.index.copy()
    bf16_index.bf16_queries = True
    assert shared_pass_for(classifier, bf16_index) is None


def engine_of(models: Models, classifier: IntentClassifier, index: KnowledgeIndex, share: bool) -> ChatEngine:
    thresholds = ThresholdSettings(confidence=0.55, out_of_scope=None, retrieval=0.45, suggestions=3, top_k=3)
    batchers = InferenceBatchers(max_size=64)
    return ChatEngine(ClassifierSlot(classifier), index, models.responses, thresholds, batchers, share)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_batched_turns_through_the_shared_pass_give_the_two_pass_replies(
    models: Models, texts: list[str], precision: str
) -> None:
    classifier, index = in_precision(models, precision)
    shared_engine = engine_of(models, classifier, index, share=True)
    separate_engine = engine_of(models, classifier, index, share=False)
    assert isinstance(shared_engine.shared_pass(classifier), SharedPass)
    assert separate_engine.shared_pass(classifier) is None
    chunk = texts[:64]

    async def everyone_at_once(engine: ChatEngine) -> list[Turn]:
        return await asyncio.wait_for(asyncio.gather(*(engine.respond(text) for text in chunk)), 120)

    try:
        shared_turns = asyncio.run(everyone_at_once(shared_engine))
        separate_turns = asyncio.run(everyone_at_once(separate_engine))
    finally:
        for engine in (shared_engine, separate_engine):
            assert engine.batchers is not None
            engine.batchers.close()
    assert any(turn.reply.sources for turn in shared_turns)  # some replies did use the retriever
    for mine, theirs in zip(shared_turns, separate_turns, strict=True):
        assert mine.prediction is not None and theirs.prediction is not None
        assert_same_prediction(mine.prediction, theirs.prediction, TOLERANCE[precision])
        # The reply text is one of the intent's variants, picked at random: not compared.
        assert (mine.reply.intent, mine.reply.action, mine.reply.sources, mine.reply.suggestions) == (
            theirs.reply.intent,
            theirs.reply.action,
            theirs.reply.sources,
            theirs.reply.suggestions,
        )


def test_the_models_share_a_pass_only_on_one_device() -> None:
    # BOT_DEVICE=auto puts both models on the GPU as "cuda", which the encoder reports as "cuda:0".
    assert same_device(torch.device("cuda"), torch.device("cuda:0"))
    assert same_device(torch.device("cpu"), torch.device("cpu"))
    assert not same_device(torch.device("cuda:0"), torch.device("cpu"))
    assert not same_device(torch.device("cuda:1"), torch.device("cuda:0"))
