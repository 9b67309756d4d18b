"""The serving path of the intent model: merged LoRA, number format, threads."""

from __future__ import annotations

import csv
import os

import pytest
import torch
from pydantic import ValidationError

from bot.config import PROJECT_ROOT, Settings
from bot.intents import store
from bot.intents.base_model import configure_serving_threads, cpu_supports_bf16
from bot.intents.classifier import IntentClassifier, load_classifier, resolve_precision
from bot.services import Models


@pytest.fixture(scope="module")
def test_split() -> list[tuple[str, str]]:
    with (PROJECT_ROOT / "data" / "test.csv").open(encoding="utf-8") as file:
        return [(row["text"], row["intent"]) for row in csv.DictReader(file)]


def accuracy(classifier: IntentClassifier, examples: list[tuple[str, str]]) -> float:
    predictions = classifier.classify([text for text, _ in examples])
    return sum(p.intent == gold for p, (_, gold) in zip(predictions, examples, strict=True)) / len(examples)


def test_merged_and_unmerged_adapters_give_the_same_predictions(
    models: Models, base_settings: Settings, test_split: list[tuple[str, str]]
) -> None:
    # In fp32: bf16 rounds the merged and the separate LoRA sums differently (about 1e-3).
    ref = store.resolve(base_settings.adapter_dir, base_settings.adapter_name, base_settings.adapter_version)
    unmerged = load_classifier(ref, "cpu", merge=False, precision="fp32")
    texts = [text for text, _ in test_split[:96]]
    assert isinstance(models.classifier, IntentClassifier)
    merged_predictions = models.classifier.with_precision("fp32").classify(texts)
    unmerged_predictions = unmerged.classify(texts)
    assert unmerged.version == models.classifier.version
    for merged, separate in zip(merged_predictions, unmerged_predictions, strict=True):
        assert merged.intent == separate.intent
        assert merged.confidence == pytest.approx(separate.confidence, abs=1e-4)


def test_merged_model_has_no_lora_layers_left(models: Models) -> None:
    assert isinstance(models.classifier, IntentClassifier)
    names = [name for name, _ in models.classifier.network.named_modules()]
    assert names and not any("lora" in name for name in names)


def test_auto_precision_is_bf16_only_where_the_cpu_computes_it(models: Models) -> None:
    expected = "bf16" if cpu_supports_bf16() else "fp32"
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert isinstance(models.classifier, IntentClassifier)
    assert models.classifier.bf16 is (expected == "bf16")


def test_bf16_autocast_keeps_the_predictions(models: Models, test_split: list[tuple[str, str]]) -> None:
    # Forced here even where bf16 is emulated (slow), so a sample of the split keeps this quick.
    assert isinstance(models.classifier, IntentClassifier)
    fp32, bf16 = models.classifier.with_precision("fp32"), models.classifier.with_precision("bf16")
    sample = test_split[::8]
    assert bf16.bf16 and not fp32.bf16
    assert accuracy(bf16, sample) >= accuracy(fp32, sample) - 0.002
    texts = [text for text, _ in sample]
    agreeing = sum(
        a.intent == b.intent for a, b in zip(bf16.classify(texts), fp32.classify(texts), strict=True)
    )
    assert agreeing >= 0.95 * len(texts)


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValidationError):
        Settings(inference_precision="fp16")  # type: ignore[arg-type]


def test_serving_leaves_one_core_to_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_TORCH_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        assert configure_serving_threads() == max(1, (os.cpu_count() or 1) - 1)
        assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) - 1)
        assert configure_serving_threads(3) == 3
        assert torch.get_num_threads() == 3
        monkeypatch.setenv("BOT_TORCH_THREADS", "2")
        assert configure_serving_threads() == 2
        assert configure_serving_threads(1) == 1
    finally:
        torch.set_num_threads(before)


def test_empty_thread_setting_means_the_automatic_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_INFERENCE_THREADS", "")
    assert Settings().inference_threads is None
    monkeypatch.setenv("BOT_INFERENCE_THREADS", "2")
    assert Settings().inference_threads == 2
