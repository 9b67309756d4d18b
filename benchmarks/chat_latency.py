"""Reply latency of one customer conversation over a real WebSocket on loopback.

Starts ``bot serve`` in a subprocess on a free loopback port with a fresh SQLite database in a
temporary folder (the shipped adapter, the cached knowledge index), connects one customer with
the ``websockets`` package, sends N messages taken from data/test.csv one after the other, and
times each from the send to the arrival of the bot's reply. Prints p50/p95/p99/mean, the
intent model's own share (``predictions.latency_ms`` as the server stored it), the machine and
the library versions.

The client runs in this process, on the same cores as the server, as a browser on the same
machine would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    customer_texts,
    hello,
    machine_lines,
    reply_ms,
    running_server,
    serving_machine,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200, help="messages to time (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed messages sent first (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the order of the test messages")
    parser.add_argument(
        "--threads", type=int, default=None, help="BOT_INFERENCE_THREADS of the server (default: cores - 1)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


def test_messages(count: int, seed: int) -> list[str]:
    texts = customer_texts()
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(count)]


async def conversation(url: str, texts: list[str], warmup: int) -> list[float]:
    async with connect(url, max_size=None) as ws:
        await hello(ws)
        timings = [await reply_ms(ws, text, f"m{i}") for i, text in enumerate(texts)]
    return timings[warmup:]


def model_latencies(database: Path, skip: int) -> list[float]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT latency_ms FROM predictions WHERE NOT shadow ORDER BY id").fetchall()
    return [float(latency) for (latency,) in rows][skip:]


def summary(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": statistics.median(values),
        "p95": cuts[94],
        "p99": cuts[98],
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


def print_report(
    info: dict[str, object], end_to_end: dict[str, float], model: dict[str, float], n: int
) -> None:
    for line in machine_lines(info):
        print(line)
    print(f"{n} messages, one conversation, WebSocket on loopback, SQLite")
    for label, figures in (("send -> bot reply", end_to_end), ("intent model only", model)):
        print(
            f"{label:>18}: p50 {figures['p50']:7.1f} ms  p95 {figures['p95']:7.1f} ms  "
            f"p99 {figures['p99']:7.1f} ms  mean {figures['mean']:7.1f} ms  max {figures['max']:7.1f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.messages < 2:
        raise SystemExit("--messages must be at least 2")
    texts = test_messages(args.warmup + args.messages, args.seed)
    info = serving_machine(args.threads)
    with tempfile.TemporaryDirectory(prefix="chat-latency-") as workdir:
        database = Path(workdir) / "bench.sqlite3"
        # One customer sending messages back to back is far above a person's pace: the visitor
        # limits (30 a minute per conversation) would refuse the run; this measures latency.
        settings = {
            "BOT_INFERENCE_THREADS": args.threads,
            "BOT_CHAT_MESSAGES_PER_MINUTE": 100_000,
            "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": 100_000,
            "BOT_CHAT_ADDRESS_MESSAGES_PER_MINUTE": 100_000,
        }
        with running_server(database, settings) as (url, _pid):
            timings = asyncio.run(conversation(url, texts, args.warmup))
        model = model_latencies(database, args.warmup)
    end_to_end, model_only = summary(timings), summary(model)
    print_report(info, end_to_end, model_only, len(timings))
    if args.json is not None:
        result = {"machine": info, "messages": len(timings), "reply_ms": end_to_end, "model_ms": model_only}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
