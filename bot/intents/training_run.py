"""One complete training run: train, measure on the test split, save as a new adapter version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.intents import store
from bot.intents.classifier import classifier_from_trained
from bot.intents.dataset import IntentDataset
from bot.intents.evaluate import metrics, score
from bot.intents.train import ProgressCallback, StepCallback, TrainedModel, TrainingConfig, train_model


def evaluate_trained(trained: TrainedModel, dataset: IntentDataset) -> dict[str, Any]:
    """Metrics on the test split (the validation split when there is no test split)."""
    examples = dataset.test or dataset.val
    split = "test" if dataset.test else "val"
    classifier = classifier_from_trained(trained)
    result = metrics(score(classifier, examples), trained.labels, trained.calibration.out_of_scope_threshold)
    return {"split": split, **result}


def train_and_save(
    dataset: IntentDataset,
    base_model: str,
    adapter_dir: Path,
    name: str,
    config: TrainingConfig | None = None,
    parent: str | None = None,
    progress: ProgressCallback | None = None,
    warm_start: Path | None = None,
    on_step: StepCallback | None = None,
) -> tuple[store.AdapterRef, dict[str, Any]]:
    trained = train_model(dataset, base_model, config, progress, warm_start=warm_start, on_step=on_step)
    result = evaluate_trained(trained, dataset)
    result["train_seconds"] = round(trained.train_seconds, 1)
    ref = store.save(trained, adapter_dir, name, data_hash=dataset.data_hash, metrics=result, parent=parent)
    return ref, result
