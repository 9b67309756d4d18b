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
import csv
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300.0
REPLY_TIMEOUT_S = 60.0
# A message of this intent queues the chat for a person, after which the bot may stay silent.
HANDOFF_INTENT = "human_agent"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200, help="messages to time (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed messages sent first (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the order of the test messages")
    parser.add_argument("--torch-threads", type=int, default=None, help="BOT_TORCH_THREADS for the server")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


def test_messages(count: int, seed: int) -> list[str]:
    with (PROJECT_ROOT / "data" / "test.csv").open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle) if row["intent"] != HANDOFF_INTENT]
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(count)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(database: Path, torch_threads: int | None) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "BOT_DATABASE_URL": f"sqlite:///{database}", "HF_HUB_OFFLINE": "1"}
    if torch_threads is not None:
        env["BOT_TORCH_THREADS"] = str(torch_threads)
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], cwd=PROJECT_ROOT, env=env)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield f"ws://127.0.0.1:{port}/ws/chat"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited during start-up with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {START_TIMEOUT_S:.0f} s")


async def timed_reply(ws: ClientConnection, text: str, client_id: str) -> float:
    """Milliseconds from sending ``text`` to the bot's reply to it."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    acked_seq = None
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S))
        if frame["type"] == "error":
            raise SystemExit(f"the server refused message {client_id}: {frame}")
        if frame["type"] == "ack" and frame["client_id"] == client_id:
            acked_seq = frame["seq"]
        elif frame["type"] == "message" and frame["role"] == "bot" and frame.get("reply_to") == acked_seq:
            return (time.perf_counter() - started) * 1000


async def conversation(url: str, texts: list[str], warmup: int) -> list[float]:
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": None, "last_seq": None}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        timings = [await timed_reply(ws, text, f"m{i}") for i, text in enumerate(texts)]
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


def machine(torch_threads: int | None, load_before: float) -> dict[str, object]:
    import torch

    from bot.intents.base_model import configure_cpu_threads

    if torch_threads is not None:
        os.environ["BOT_TORCH_THREADS"] = str(torch_threads)
    configure_cpu_threads()  # the server's own rule, so this reports the threads it uses
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "transformers": metadata.version("transformers"),
        "sentence_transformers": metadata.version("sentence-transformers"),
        "peft": metadata.version("peft"),
        # Other work on the same cores inflates every figure; the load says how much there was.
        "load_average_before": round(load_before, 2),
    }


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def print_report(
    info: dict[str, object], end_to_end: dict[str, float], model: dict[str, float], n: int
) -> None:
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, "
        f"load average before the run {info['load_average_before']}"
    )
    print(
        f"python {info['python']}, torch {info['torch']}, transformers {info['transformers']}, "
        f"sentence-transformers {info['sentence_transformers']}, peft {info['peft']}"
    )
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
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chat-latency-") as workdir:
        database = Path(workdir) / "bench.sqlite3"
        with running_server(database, args.torch_threads) as url:
            timings = asyncio.run(conversation(url, texts, args.warmup))
        model = model_latencies(database, args.warmup)
    info = machine(args.torch_threads, load_before)
    end_to_end, model_only = summary(timings), summary(model)
    print_report(info, end_to_end, model_only, len(timings))
    if args.json is not None:
        result = {"machine": info, "messages": len(timings), "reply_ms": end_to_end, "model_ms": model_only}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
