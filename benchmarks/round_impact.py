"""Customers' reply latency while a learning round trains, against the same server idle.

Starts ``bot serve`` (fresh SQLite database, a throw-away copy of the production adapter, 50
staff labels waiting: ten of a new approved intent, 40 rephrased known ones), connects a few
honest customers (each sends a test utterance, reads the reply, thinks for about a second),
times their replies for a while with nothing else running, then starts a round, from the
console's API (the default) or with ``bot retrain``, and times the same customers until the
round has trained and gated its candidate. Prints p50/p95 of both, the ratio of the p95s (the
target: at most 1.5), the round's duration, the machine and the library versions.

Everything runs on the same cores: the server, the round and the customers' client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    PROJECT_ROOT,
    customer_texts,
    hello,
    machine_lines,
    reply_ms,
    running_server,
    serving_machine,
)
from benchmarks._round_setup import round_store, seed_labels  # noqa: E402

OPERATOR, PASSWORD = "olga", "benchmark operator password"
FINISHED = ("succeeded", "failed", "cancelled")
VISITOR_LIMITS = {
    "BOT_CHAT_MESSAGES_PER_MINUTE": "100000",
    "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": "100000",
    "BOT_CHAT_ADDRESS_MESSAGES_PER_MINUTE": "100000",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=4, help="customers chatting at once (default 4)")
    parser.add_argument(
        "--think-ms", type=float, default=1000, help="mean pause between messages (default 1000)"
    )
    parser.add_argument("--idle-seconds", type=float, default=60, help="how long to time the idle server")
    parser.add_argument(
        "--via", choices=("api", "cli"), default="api", help="start the round from (default api)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="the round's epochs (default: the recipe's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


class Customers:
    """Honest customers: one message at a time, each after reading the last reply."""

    def __init__(self, url: str, count: int, think_ms: float) -> None:
        self.url, self.count, self.think_ms = url, count, think_ms
        self.texts = customer_texts()
        self.timings: list[float] = []
        self.stop = asyncio.Event()

    async def run_until(self, done: asyncio.Future[Any]) -> list[float]:
        self.timings, self.stop = [], asyncio.Event()
        tasks = [asyncio.create_task(self._customer(i)) for i in range(self.count)]
        await done
        self.stop.set()
        await asyncio.gather(*tasks)
        return self.timings

    async def _customer(self, number: int) -> None:
        rng = random.Random(number)
        async with connect(self.url, max_size=None) as ws:
            await hello(ws)
            sent = 0
            while not self.stop.is_set():
                self.timings.append(await reply_ms(ws, rng.choice(self.texts), f"c{number}-{sent}"))
                sent += 1
                pause = rng.uniform(0.5, 1.5) * self.think_ms / 1000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), pause)


def log_in(base: str) -> tuple[str, str]:
    body = json.dumps({"username": OPERATOR, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        base + "/api/auth/login", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        return cookie, json.loads(response.read())["csrf_token"]


def call(base: str, login: tuple[str, str], method: str, path: str, body: Any = None) -> Any:
    cookie, csrf = login
    headers = {"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


async def round_from_api(base: str, epochs: int | None) -> dict[str, Any]:
    login = await asyncio.to_thread(log_in, base)
    body = {"epochs": epochs} if epochs else {}
    record = await asyncio.to_thread(call, base, login, "POST", "/api/rounds", body)
    while record["state"] not in FINISHED:
        await asyncio.sleep(1)
        record = await asyncio.to_thread(call, base, login, "GET", f"/api/rounds/{record['id']}")
    return record  # type: ignore[no-any-return]


async def round_from_cli(env: dict[str, str], epochs: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bot.cli", "retrain", "--json"] + (
        ["--epochs", str(epochs)] if epochs else []
    )
    process = await asyncio.create_subprocess_exec(
        *command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"bot retrain failed with code {process.returncode}")
    result = json.loads(out)
    return {"state": "succeeded", "candidate": result["candidate"], "gate": result["gate"]}


async def measure(url: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    customers = Customers(url, args.customers, args.think_ms)
    idle = await customers.run_until(asyncio.ensure_future(asyncio.sleep(args.idle_seconds)))
    base = "http://" + url.removeprefix("ws://").split("/", 1)[0]
    started = time.perf_counter()
    job = round_from_api(base, args.epochs) if args.via == "api" else round_from_cli(env, args.epochs)
    round_task = asyncio.ensure_future(job)
    during = await customers.run_until(round_task)
    record = round_task.result()
    return {"idle": idle, "during": during, "round": record, "round_seconds": time.perf_counter() - started}


def summary(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": statistics.median(values), "p95": cuts[94], "max": max(values)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = serving_machine(None)
    with tempfile.TemporaryDirectory(prefix="round-impact-") as workdir:
        database = Path(workdir) / "bench.sqlite3"
        # All the customers share one loopback address: the per-address visitor limits would
        # refuse them as one abuser.
        settings = {**round_store(Path(workdir)), **VISITOR_LIMITS}
        env = {**os.environ, **settings, "BOT_DATABASE_URL": f"sqlite:///{database}", "HF_HUB_OFFLINE": "1"}
        labels = seed_labels(f"sqlite:///{database}", OPERATOR)
        _create_operator(f"sqlite:///{database}")
        with running_server(database, settings) as (url, _pid):
            result = asyncio.run(measure(url, args, env))
    idle, during = summary(result["idle"]), summary(result["during"])
    ratio = during["p95"] / idle["p95"]
    record = result["round"]
    for line in machine_lines(info):
        print(line)
    print(
        f"{args.customers} customers, think time ~{args.think_ms:.0f} ms; a round with {labels} staff labels "
        f"started from the {args.via}: {record['state']} in {result['round_seconds']:.1f} s "
        f"(gate {'passed' if record.get('gate') and record['gate']['passed'] else 'refused or none'})"
    )
    for label, figures in (("idle", idle), ("during the round", during)):
        print(
            f"{label:>17}: {figures['n']:4d} replies, p50 {figures['p50']:7.1f} ms, "
            f"p95 {figures['p95']:7.1f} ms, max {figures['max']:7.1f} ms"
        )
    print(f"p95 during / p95 idle: {ratio:.2f} (target at most 1.5)")
    if args.json is not None:
        output = {"machine": info, "idle": idle, "during": during, "p95_ratio": ratio, "round": record}
        args.json.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")


def _create_operator(database_url: str) -> None:
    from bot.db.session import create_db_engine, create_session_factory
    from bot.staff import accounts

    engine = create_db_engine(database_url)
    accounts.create_user(create_session_factory(engine), OPERATOR, PASSWORD, "operator")
    engine.dispose()


if __name__ == "__main__":
    main()
