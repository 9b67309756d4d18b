"""Honest customers' reply latency alone and while the server is abused, with the shipped limits.

Starts ``bot serve`` (default settings, a fresh SQLite database) and runs five phases of
``--seconds`` each. In every phase ``--customers`` honest customers chat at a human pace (a
message, the reply, ``--think`` seconds, the next), each from its own loopback address
(127.0.0.10, .11, ...), while an attacker in a separate process does one of:

- ``alone``: nothing (the baseline);
- ``flood x1``: one socket sends messages as fast as it can, reconnecting and resuming its
  conversation whenever the server closes it;
- ``flood x20``: twenty such sockets from one address;
- ``logins x16``: sixteen parallel loops of logins with random usernames and passwords;
- ``hello-only x300``: three hundred sockets that never say hello, reconnecting when closed
  or refused.

The attacker runs at the lowest CPU priority (nice 19): on the internet its CPU would not be the
server's. Each attacker has a loopback address of its own (127.0.1.x-127.0.3.x), so per-address limits
apply to it and not to the honest customers, as on the internet; no limit is raised for the
benchmark. Prints honest p50/p95 per phase, their ratios to ``alone``, honest messages that were
refused or never answered, what the attacker achieved, the machine and versions. ``--runs N``
repeats everything on a fresh server and prints the median of each figure.

The honest customers share the machine's cores with the server, as a browser on the same machine
would; the load average before the run says how busy the machine was otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    customer_texts,
    machine_lines,
    running_server,
    serving_machine,
)

HONEST_FIRST_ADDRESS = 10
RAMP_UP_S = 3.0
REPLY_TIMEOUT_S = 30.0
Attack = Callable[[str, Counter[str], float], Coroutine[Any, Any, None]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="fresh servers to run; prints medians (default 1)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (default 20)")
    parser.add_argument("--customers", type=int, default=8, help="honest customers at once (default 8)")
    parser.add_argument(
        "--think", type=float, default=2.5, help="honest customer's pause between messages, s (default 2.5)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


# --- the honest side -------------------------------------------------------------------------


async def honest_customer(
    url: str, address: str, texts: list[str], until: float, think: float, outcome: Counter[str]
) -> list[float]:
    timings: list[float] = []
    rng = random.Random(address)
    async with connect(url, max_size=None, local_addr=(address, 0)) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        while json.loads(await ws.recv())["type"] != "welcome":
            pass
        while time.monotonic() < until:
            client_id = uuid.uuid4().hex
            outcome["sent"] += 1
            try:
                timings.append(await _reply_ms(ws, rng.choice(texts), client_id))
                outcome["answered"] += 1
            except RuntimeError as refused:
                outcome[f"refused: {refused}"] += 1
            except TimeoutError:
                outcome["unanswered"] += 1
            await asyncio.sleep(think * rng.uniform(0.8, 1.2))
    return timings


async def _reply_ms(ws: ClientConnection, text: str, client_id: str) -> float:
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    acked_seq = None
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "error" and frame.get("client_id") == client_id:
                raise RuntimeError(frame["code"])
            if frame["type"] == "ack" and frame.get("client_id") == client_id:
                acked_seq = frame["seq"]
            elif frame["type"] == "message" and acked_seq is not None and frame.get("reply_to") == acked_seq:
                return (time.perf_counter() - started) * 1000


async def honest_phase(
    url: str, customers: int, seconds: float, think: float
) -> tuple[list[float], Counter[str]]:
    texts = customer_texts()
    until = time.monotonic() + seconds
    outcome: Counter[str] = Counter()
    results = await asyncio.gather(
        *(
            honest_customer(url, f"127.0.0.{HONEST_FIRST_ADDRESS + n}", texts, until, think, outcome)
            for n in range(customers)
        )
    )
    return [timing for timings in results for timing in timings], outcome


# --- the attacks (each runs in a process of its own) -----------------------------------------


async def flood(url: str, address: str, sockets: int, stats: Counter[str], until: float) -> None:
    async def one_socket() -> None:
        token = None
        texts = customer_texts()
        while time.monotonic() < until:
            try:
                async with connect(url, max_size=None, local_addr=(address, 0)) as ws:
                    await ws.send(json.dumps({"type": "hello", "token": token}))
                    welcome = json.loads(await ws.recv())
                    if welcome["type"] != "welcome":
                        stats[f"hello refused: {welcome.get('code')}"] += 1
                        await asyncio.sleep(1.0)
                        continue
                    token = welcome["token"]
                    reader = asyncio.create_task(_count_frames(ws, stats))
                    try:
                        while time.monotonic() < until:
                            frame = {
                                "type": "message",
                                "client_id": uuid.uuid4().hex,
                                "text": random.choice(texts),
                            }
                            await ws.send(json.dumps(frame))
                            stats["messages sent"] += 1
                            await asyncio.sleep(0)
                    finally:
                        reader.cancel()
            except (ConnectionClosed, InvalidStatus, OSError):
                stats["sockets closed or refused"] += 1
                await asyncio.sleep(0.1)

    await asyncio.gather(*(one_socket() for _ in range(sockets)))


async def _count_frames(ws: ClientConnection, stats: Counter[str]) -> None:
    async for raw in ws:
        frame = json.loads(raw)
        stats[frame["type"] if frame["type"] != "error" else f"error {frame['code']}"] += 1


async def bogus_logins(url: str, address: str, loops: int, stats: Counter[str], until: float) -> None:
    http_url = url.replace("ws://", "http://").removesuffix("/ws/chat")

    async def one_loop() -> None:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, base_url=http_url, timeout=30) as client:
            while time.monotonic() < until:
                body = {"username": uuid.uuid4().hex[:12], "password": uuid.uuid4().hex}
                response = await client.post("/api/auth/login", json=body, headers={"Origin": http_url})
                stats[f"HTTP {response.status_code}"] += 1

    await asyncio.gather(*(one_loop() for _ in range(loops)))


async def hello_only(url: str, address: str, sockets: int, stats: Counter[str], until: float) -> None:
    async def one_socket() -> None:
        while time.monotonic() < until:
            try:
                async with connect(url, max_size=None, local_addr=(address, 0)) as ws:
                    stats["sockets opened"] += 1
                    await ws.recv()
            except InvalidStatus:
                stats["refused at the handshake"] += 1
                await asyncio.sleep(1.0)
            except (ConnectionClosed, OSError) as closed:
                code = getattr(getattr(closed, "rcvd", None), "code", None)
                stats[f"closed by the server ({code})"] += 1

    await asyncio.gather(*(one_socket() for _ in range(sockets)))


SCENARIOS: dict[str, tuple[Callable[..., Coroutine[Any, Any, None]], str, int] | None] = {
    "alone": None,
    "flood x1": (flood, "127.0.1.1", 1),
    "flood x20": (flood, "127.0.1.2", 20),
    "logins x16": (bogus_logins, "127.0.2.1", 16),
    "hello-only x300": (hello_only, "127.0.3.1", 300),
}


def run_attack(name: str, url: str, seconds: float, results: Any) -> None:
    # On the internet the attacker's CPU is not the server's; on one machine it is. Lowest priority
    # keeps the load generator from taking the server's cores, and what it still sent is reported.
    os.nice(19)
    attack, address, count = SCENARIOS[name]  # type: ignore[misc]
    stats: Counter[str] = Counter()
    until = time.monotonic() + seconds

    async def main() -> None:
        with _suppress_timeout():
            async with asyncio.timeout(seconds + 5):
                await attack(url, address, count, stats, until)

    asyncio.run(main())
    results.put(dict(stats))


class _suppress_timeout:  # noqa: N801 - used as a context manager
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is TimeoutError


# --- running it ------------------------------------------------------------------------------


def one_run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="abuse-") as workdir,
        running_server(Path(workdir) / "bench.sqlite3", {}) as (url, _pid),
    ):
        return all_phases(url, args)


def all_phases(url: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    results: dict[str, dict[str, Any]] = {}
    asyncio.run(honest_phase(url, args.customers, 5.0, args.think))  # warm-up, untimed
    for name, scenario in SCENARIOS.items():
        queue = context.Queue()
        attacker = None
        if scenario is not None:
            attacker = context.Process(
                target=run_attack, args=(name, url, RAMP_UP_S + args.seconds, queue), daemon=True
            )
            attacker.start()
            time.sleep(RAMP_UP_S)
        timings, outcome = asyncio.run(honest_phase(url, args.customers, args.seconds, args.think))
        attack_stats = {}
        if attacker is not None:
            attack_stats = queue.get(timeout=60)
            attacker.join(timeout=30)
        results[name] = {"timings": timings, "outcome": dict(outcome), "attacker": attack_stats}
        print(f"  {name}: {_figures(timings)}; honest {dict(outcome)}; attacker {attack_stats}", flush=True)
        time.sleep(2.0)
    return results


def _figures(timings: list[float]) -> str:
    if len(timings) < 2:
        return "too few replies"
    return f"p50 {percentile(timings, 50):.0f} ms, p95 {percentile(timings, 95):.0f} ms, n={len(timings)}"


def percentile(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if q != 50
        else statistics.median(values)
    )


def report(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for name in SCENARIOS:
        p50s = [percentile(run[name]["timings"], 50) for run in runs]
        p95s = [percentile(run[name]["timings"], 95) for run in runs]
        base50 = [percentile(run["alone"]["timings"], 50) for run in runs]
        base95 = [percentile(run["alone"]["timings"], 95) for run in runs]
        lost = sum(
            count
            for run in runs
            for key, count in run[name]["outcome"].items()
            if key not in ("sent", "answered")
        )
        table[name] = {
            "p50_ms": statistics.median(p50s),
            "p95_ms": statistics.median(p95s),
            "p50_ratio": statistics.median(a / b for a, b in zip(p50s, base50, strict=True)),
            "p95_ratio": statistics.median(a / b for a, b in zip(p95s, base95, strict=True)),
            "honest_sent": sum(run[name]["outcome"].get("sent", 0) for run in runs),
            "honest_not_answered": lost,
        }
    return table


def print_table(table: dict[str, dict[str, float]], runs: int) -> None:
    print(f"\nhonest customers' send -> reply, median of {runs} run(s):")
    print(f"{'phase':>16}  {'p50 ms':>7}  {'p95 ms':>7}  {'p50 x':>6}  {'p95 x':>6}  not answered / sent")
    for name, row in table.items():
        print(
            f"{name:>16}  {row['p50_ms']:7.0f}  {row['p95_ms']:7.0f}  {row['p50_ratio']:6.2f}  "
            f"{row['p95_ratio']:6.2f}  {row['honest_not_answered']:.0f} / {row['honest_sent']:.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = serving_machine(None)
    for line in machine_lines(info):
        print(line)
    print(
        f"{args.customers} honest customers, a message every ~{args.think:.1f} s after each reply, "
        f"phases of {args.seconds:.0f} s, default limits"
    )
    runs = []
    for number in range(args.runs):
        print(f"run {number + 1} of {args.runs}:", flush=True)
        runs.append(one_run(args))
    table = report(runs)
    print_table(table, args.runs)
    if args.json is not None:
        result = {"machine": info, "table": table, "runs": runs}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
