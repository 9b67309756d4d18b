"""How long a learning round takes: building its data, training the candidate, gating it.

The round is the one ``bot retrain`` runs (same process setup: lower priority, the round's
thread count), on the shipped seed plus 50 staff labels (ten of a new approved intent, 40
rephrased known ones), warm-started from a throw-away copy of the production adapter, with a
fresh SQLite database. Prints the time of each phase and the total, the gate's verdict, the
machine and the library versions. The target: at most 90 s on 2 cores.

Beside the wall time it prints the CPU time the round used. The round trains on one torch
thread per spare core (one on 2 cores), so on cores it has to itself its wall time is about
its CPU time: on shared cores (other work running, see the load average) the CPU time is the
fairer figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import cpu_model, machine_lines, package_versions  # noqa: E402
from benchmarks._round_setup import round_store, seed_labels  # noqa: E402

PHASES = ("building data", "training", "gating")
PACKAGES = ("torch", "transformers", "peft", "scipy", "numpy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=None, help="BOT_ROUND_THREADS (default: cores - 1)")
    parser.add_argument("--epochs", type=int, default=None, help="the round's epochs (default: the recipe's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


def timed_round(workdir: Path, threads: int | None, epochs: int | None) -> dict[str, Any]:
    database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    labels = seed_labels(database_url)
    os.environ.update(round_store(workdir), BOT_DATABASE_URL=database_url)
    if threads is not None:
        os.environ["BOT_ROUND_THREADS"] = str(threads)

    from bot.config import Settings
    from bot.intents.train import TrainingConfig
    from bot.learning import round_jobs, round_process

    settings = Settings()
    marks: list[tuple[str, float]] = []
    claim = round_jobs.claim(settings, "benchmark", round_jobs.RoundOptions(epochs), pid=os.getpid())
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    result = round_process.run_claimed(
        settings,
        claim,
        epochs,
        on_message=lambda text: (
            marks.append((text, time.perf_counter() - started)) if text in PHASES else None
        ),
    )
    total = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    if result is None:
        raise SystemExit(f"the round did not succeed: {round_jobs.read(settings, claim.round_id)}")
    ends = [at for _, at in marks[1:]] + [total]
    return {
        "labels": labels,
        "threads": round_process.round_thread_count(settings),
        "niceness": settings.round_niceness,
        "epochs": epochs or TrainingConfig().epochs,
        "phases": {name: end - at for (name, at), end in zip(marks, ends, strict=True)},
        "total_seconds": total,
        "cpu_seconds": cpu,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "gate_passed": result.gate.passed if result.gate else None,
        "candidate_accuracy": result.metrics["accuracy"],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "inference_threads": "-",
        "bf16_native": _bf16(),
        "python": sys.version.split()[0],
        "versions": package_versions(PACKAGES),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="round-time-") as workdir:
        figures = timed_round(Path(workdir), args.threads, args.epochs)
    for line in machine_lines(info):
        print(line)
    print(
        f"round: shipped seed + {figures['labels']} staff labels, {figures['epochs']} epochs, "
        f"{figures['threads']} torch thread(s), niceness +{figures['niceness']}"
    )
    for name, seconds in figures["phases"].items():
        print(f"  {name:>14}: {seconds:6.1f} s")
    print(f"  {'CPU time':>14}: {figures['cpu_seconds']:6.1f} s (user + system, this process)")
    print(
        f"  {'total':>14}: {figures['total_seconds']:6.1f} s (target at most 90 s on 2 cores); "
        f"gate {'passed' if figures['gate_passed'] else 'refused'}, "
        f"candidate accuracy {figures['candidate_accuracy']:.4f}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": info, **figures}, indent=2) + "\n", encoding="utf-8")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _bf16() -> bool:
    from bot.intents.base_model import cpu_supports_bf16

    return cpu_supports_bf16()


if __name__ == "__main__":
    main()
