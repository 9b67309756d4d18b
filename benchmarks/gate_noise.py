"""How often the promotion gate refuses a candidate that differs from production only in its seed.

``--seeds K`` adapters are trained from the base model on the shipped seed data (``data/``) with
one recipe (the shipped ``default/v2``'s recorded training configuration) and seeds
``2000 .. 2000+K-1``. Every ordered pair of them is gated, one as production and the other as
the candidate (K(K-1) pairs), and so is each of them as a candidate against the shipped
``default/v2`` (trained with seed 42 by the same recipe): K*K pairs in all, 100 for the default
K = 10. Nothing but chance separates the two sides of a pair, so every refusal is a false refusal.
Each pair is gated exactly as ``bot adapters promote`` gates a round (``run_gate`` with the
settings' alpha and tolerance) on the shipped held-out split. The script prints every pair's
discordant counts and reasons, the refusal rate with its exact (Clopper-Pearson) 95% interval,
the machine and the library versions.

The pairs share adapters (each adapter is in 2K-1 of them), so they are not independent trials:
a seed that happens to be unlucky is refused against several others at once. The interval,
which assumes independence, is then too narrow; the rate itself is unbiased. K adapters cost K
trainings (about 40 s each on two idle cores), where independent pairs would cost two each.

Trained adapters are kept under ``--work-dir`` (one folder per seed), so an interrupted run
resumes where it stopped and a second run only re-gates. ``--train-only --shard K/N`` trains a
share of the seeds, so that N processes (``BOT_TORCH_THREADS=1`` each) can train side by side.
``--quick`` trains two seeds for one epoch to check that the script works (its numbers mean
nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import torch  # noqa: E402

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.intents import store  # noqa: E402
from bot.intents.base_model import configure_cpu_threads  # noqa: E402
from bot.intents.classifier import IntentClassifier, load_classifier  # noqa: E402
from bot.intents.dataset import IntentDataset, load_dataset  # noqa: E402
from bot.intents.model import Prediction  # noqa: E402
from bot.intents.train import TrainingConfig  # noqa: E402
from bot.intents.training_run import train_and_save  # noqa: E402

RECIPE_ADAPTER = PROJECT_ROOT / "adapters" / "default" / "v2"
SEED_BASE = 2000
PACKAGES = ("torch", "transformers", "peft", "numpy", "scipy", "scikit-learn")


def recipe(seed: int, quick: bool) -> TrainingConfig:
    """The shipped adapter's training configuration with another seed."""
    recorded = store.read_json(RECIPE_ADAPTER / "training.json")["config"]
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    config = TrainingConfig(**{k: v for k, v in recorded.items() if k in known})
    config.seed, config.device, config.bf16 = seed, "cpu", "auto"
    if quick:
        config.epochs = 1
    return config


def trained_adapter(
    seed: int, dataset: IntentDataset, settings: Settings, work_dir: Path, quick: bool
) -> store.AdapterRef:
    """The adapter of ``seed``, trained once and kept in ``work_dir``."""
    folder = work_dir / f"seed-{seed}"
    existing = store.list_versions(folder, "noise") if folder.is_dir() else []
    if existing:
        return existing[0]
    started = time.perf_counter()
    ref, _ = train_and_save(dataset, settings.base_model, folder, "noise", recipe(seed, quick))
    print(f"  trained seed {seed} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return ref


class ScoredOnce:
    """A classifier that has already classified the held-out split: every pair reuses its
    predictions instead of running the model again."""

    def __init__(self, classifier: IntentClassifier, texts: list[str], version: str) -> None:
        self.version = version
        self.labels = classifier.labels
        self._threshold = classifier.out_of_scope_threshold
        self._predictions = dict(zip(texts, classifier.classify(texts), strict=True))

    @property
    def out_of_scope_threshold(self) -> float:
        return self._threshold

    def classify(self, texts: list[str]) -> list[Prediction]:
        return [self._predictions[text] for text in texts]


def gate_pair(
    production: ScoredOnce, candidate: ScoredOnce, dataset: IntentDataset, settings: Settings
) -> dict[str, Any]:
    from bot.learning.gate import GateSettings, run_gate

    result = run_gate(candidate, production, dataset.test, [], GateSettings.from_settings(settings))
    overall = result.report["held_out"]["overall"]
    return {
        "production": production.version,
        "candidate": candidate.version,
        "passed": result.passed,
        "reasons": result.reasons,
        "fixed": overall["fixed"],
        "broken": overall["broken"],
        "p_value": overall["p_value"],
        "accuracy_difference": overall["accuracy_difference"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seeds", type=int, default=10, help="Adapters to train (default 10: 100 pairs with default/v2)."
    )
    parser.add_argument("--quick", action="store_true", help="Two seeds, one epoch: a smoke check only.")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=PROJECT_ROOT / "var" / "gate-noise",
        help="Where trained adapters are kept between runs (default var/gate-noise).",
    )
    parser.add_argument("--train-only", action="store_true", help="Train the adapters, gate nothing.")
    parser.add_argument(
        "--shard",
        default="0/1",
        help="K/N: with --train-only, train only the seeds i with i %% N == K; default 0/1.",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results to this file.")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2")
    seeds = 2 if args.quick else args.seeds
    work_dir = args.work_dir / ("quick" if args.quick else "full")
    shard, shards = (int(part) for part in args.shard.split("/"))

    configure_cpu_threads()
    settings = Settings()
    dataset = load_dataset(settings.data_dir)
    print(
        f"{seeds} seeds, {seeds * seeds} pairs; training data {len(dataset.train)} utterances, "
        f"held-out {len(dataset.test)}; adapters in {work_dir}",
        file=sys.stderr,
        flush=True,
    )
    refs = [
        trained_adapter(SEED_BASE + i, dataset, settings, work_dir, args.quick)
        for i in range(seeds)
        if not args.train_only or i % shards == shard
    ]
    if args.train_only:
        return

    from bot.learning.paired_stats import clopper_pearson

    texts = [example.text for example in dataset.test]
    shipped = store.AdapterRef(RECIPE_ADAPTER.parent.name, RECIPE_ADAPTER.name, RECIPE_ADAPTER)
    trained = [ScoredOnce(load_classifier(ref, "cpu"), texts, ref.path.parent.parent.name) for ref in refs]
    production_v2 = ScoredOnce(load_classifier(shipped, "cpu"), texts, shipped.id)
    pairs = [(a, b) for a in trained for b in trained if a is not b]
    pairs += [(production_v2, b) for b in trained]
    rows = []
    for production, candidate in pairs:
        row = gate_pair(production, candidate, dataset, settings)
        rows.append(row)
        print(
            f"{row['production']:>14s} -> {row['candidate']:14s} "
            f"{'passed ' if row['passed'] else 'REFUSED'} fixed {row['fixed']:2d} "
            f"broken {row['broken']:2d} p {row['p_value']:.3f} "
            f"difference {row['accuracy_difference']:+.4f} {'; '.join(row['reasons'])}"
        )
    refused = sum(not row["passed"] for row in rows)
    low, high = clopper_pearson(refused, len(rows), 0.05)
    discordant = [row["fixed"] + row["broken"] for row in rows]
    summary = {
        "seeds": seeds,
        "pairs": len(rows),
        "refused": refused,
        "refusal_rate": refused / len(rows),
        "clopper_pearson_95": [round(low, 4), round(high, 4)],
        "discordant_median": sorted(discordant)[len(discordant) // 2],
        "discordant_max": max(discordant),
        "alpha": settings.gate_alpha,
        "intent_tolerance": settings.gate_intent_tolerance,
        "held_out": len(texts),
        "quick": args.quick,
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        "python": platform.python_version(),
        "versions": package_versions(PACKAGES),
    }
    print(
        f"false refusals: {refused} of {len(rows)} seed pairs = {refused / len(rows):.1%} "
        f"(95% Clopper-Pearson interval {low:.1%} to {high:.1%}, assuming independent pairs); "
        f"discordant utterances a pair: median {summary['discordant_median']}, "
        f"max {summary['discordant_max']}"
    )
    print(f"machine: {summary['machine']}; python {summary['python']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()))
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "pairs": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
