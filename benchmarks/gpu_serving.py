"""Where serving puts the models, and what a batch costs there: run it on a machine with a GPU.

    python benchmarks/gpu_serving.py [--device auto|cpu|cuda] [--batch 64]

Loads the models as ``bot serve`` does (``BOT_DEVICE``: auto picks CUDA when there is one) and
prints where the intent model and the retriever's query encoder run, in which precision, and
whether the shared lower-layer pass is on. Then, over the shipped test utterances in batches:
the two separate passes against the shared pass (the largest difference in probabilities and
hit scores, which must stay within 1e-5, as ``tests/chat/test_shared_pass.py`` checks on the
CPU) and milliseconds per batch for each. Exits 1 when a check fails: with CUDA present and
``--device auto`` both models must be on it, and the shared pass must be on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks._harness import PROJECT_ROOT, customer_texts, machine_lines, serving_machine  # noqa: E402
from bot.chat.shared_pass import TurnInference, TurnQuery, shared_pass_for  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.intents.classifier import IntentClassifier  # noqa: E402
from bot.intents.model import Prediction  # noqa: E402
from bot.retrieval.index import Hit  # noqa: E402
from bot.services import load_models  # noqa: E402

TOLERANCE = 1e-5
TOP_K = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            database_url=f"sqlite:///{state}/unused.sqlite3",
            data_dir=PROJECT_ROOT / "data",
            state_dir=Path(state),
            adapter_dir=PROJECT_ROOT / "adapters",
            device=args.device,
        )
        models = load_models(settings)
    classifier, index = models.classifier, models.index
    assert isinstance(classifier, IntentClassifier)
    shared = shared_pass_for(classifier, index)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print("\n".join(machine_lines(serving_machine(settings.inference_threads))))
    print(f"GPU: {gpu}")
    print(f"intent model: {classifier.device}, {'bf16' if classifier.bf16 else 'fp32'}")
    print(f"retriever queries: {index.encoder.device}, {'bf16' if index.bf16_queries else 'fp32'}")
    print(f"shared lower layers: {shared.shared_layers if shared is not None else 'off'}")
    failures = []
    if torch.cuda.is_available() and args.device == "auto":
        if classifier.device.type != "cuda" or index.encoder.device.type != "cuda":
            failures.append("CUDA is present but a model is not on it")
        if shared is None:
            failures.append("the shared pass is off on the GPU")
    texts = customer_texts()
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    separate_ms, shared_ms, worst = [], [], 0.0
    for _ in range(args.rounds):
        for batch in batches:
            started = time.perf_counter()
            predictions = classifier.classify(batch)
            hits = index.search_many(batch, TOP_K)
            separate_ms.append((time.perf_counter() - started) * 1000)
            if shared is None:
                continue
            started = time.perf_counter()
            inferred = shared.run([TurnQuery(text, TOP_K, lambda _: True) for text in batch])
            shared_ms.append((time.perf_counter() - started) * 1000)
            worst = max(worst, largest_difference(inferred, predictions, hits))
    print(f"{len(texts)} utterances in batches of {args.batch}, {args.rounds} rounds (the first warms up)")
    print(f"separate passes: median {warm_median(separate_ms, len(batches)):.1f} ms a batch")
    if shared_ms:
        print(f"shared pass:     median {warm_median(shared_ms, len(batches)):.1f} ms a batch")
        print(f"largest difference, shared against separate: {worst:.2e} (limit {TOLERANCE:.0e})")
        if worst > TOLERANCE:
            failures.append(f"the shared pass differs by {worst:.2e}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


def largest_difference(
    inferred: list[TurnInference], predictions: list[Prediction], hits: list[list[Hit]]
) -> float:
    worst = 0.0
    for mine, theirs, their_hits in zip(inferred, predictions, hits, strict=True):
        for (_, a), (_, b) in zip(mine.prediction.top_k, theirs.top_k, strict=True):
            worst = max(worst, abs(a - b))
        for hit, their_hit in zip(mine.hits or [], their_hits, strict=True):
            worst = max(worst, abs(hit.score - their_hit.score))
    return worst


def warm_median(timings: list[float], first_round: int) -> float:
    """The median after the first round (which warms caches and, on a GPU, kernels)."""
    return statistics.median(timings[first_round:] or timings)


if __name__ == "__main__":
    sys.exit(main())
