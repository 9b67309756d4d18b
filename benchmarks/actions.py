"""Business actions under load: order lookups against a slow shop, and everyone else meanwhile.

Starts ``bot serve`` (a fresh SQLite database) once per shop delay (default 50 ms, 500 ms and
5 s; the demo shop's ``BOT_DEMO_SHOP_DELAY_MS``, so the shop is real HTTP on the same server)
and measures, per delay:

- lookups: N concurrent conversations (default 200) each send M messages that hold an order
  number and its e-mail ("where is NW-10042? jamie.fox@example.com"), so every message is one
  call to the shop: replies/s, p50/p95 of send -> reply, and how many replies were the order's
  status (the call answered) and how many the fallback (timeout: the action's 3 s; or an open
  circuit);
- other intents meanwhile: K conversations (default 20) asking other questions, p50/p95, and
  the same K conversations alone before the lookups start (the baseline).

The client and the shop run on the same cores as the server. Run with ``--help`` for the knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    PROJECT_ROOT,
    REPLY_TIMEOUT_S,
    customer_texts,
    free_port,
    hello,
    machine_lines,
    running_server,
    serving_machine,
)

ORDER_INTENT = "track_order"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--delays-ms",
        default="off,50,500,5000",
        help="shop delays to measure, comma-separated; off: the same load with actions off (canned replies)",
    )
    parser.add_argument(
        "--shop",
        choices=("separate", "mounted"),
        default="separate",
        help="separate: the demo shop in a process of its own, as a real shop would be (default); "
        "mounted: the server's own /demo/api, sharing its event loop",
    )
    parser.add_argument(
        "--conversations", type=int, default=200, help="concurrent customers looking up orders"
    )
    parser.add_argument("--messages", type=int, default=3, help="lookups per customer (default 3)")
    parser.add_argument("--others", type=int, default=20, help="customers asking other things meanwhile")
    parser.add_argument("--other-messages", type=int, default=5, help="messages per other customer")
    parser.add_argument("--think-ms", type=float, default=100.0, help="mean pause between reply and message")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        help="BOT_ACTION_MAX_CONNECTIONS of the server (default: one per conversation)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


@dataclass
class Series:
    values_ms: list[float] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.values_ms:
            return float("nan")
        ordered = sorted(self.values_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def ask(ws: ClientConnection, text: str, client_id: str) -> tuple[float, dict[str, object]]:
    """Milliseconds from sending ``text`` to the bot's reply, and the reply frame."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    acked = None
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "error":
                raise RuntimeError(f"refused: {frame}")
            if frame["type"] == "ack" and frame.get("client_id") == client_id:
                acked = frame["seq"]
            elif frame["type"] == "message" and acked is not None and frame.get("reply_to") == acked:
                return (time.perf_counter() - started) * 1000, frame


def orders() -> list[tuple[str, str]]:
    with (PROJECT_ROOT / "data" / "demo" / "orders.csv").open(newline="", encoding="utf-8") as handle:
        return [(row["number"], row["email"]) for row in csv.DictReader(handle)]


async def conversation(
    url: str,
    texts: list[str],
    count: int,
    think_s: float,
    rng: random.Random,
    start: asyncio.Event,
    series: Series,
) -> None:
    async with connect(url, max_size=None, open_timeout=120) as ws:
        await hello(ws)
        await start.wait()
        await asyncio.sleep(rng.uniform(0, 2 * think_s))
        for number in range(count):
            try:
                milliseconds, frame = await ask(ws, rng.choice(texts), f"m{number}")
            except (TimeoutError, RuntimeError) as error:
                series.failures.append(repr(error))
                return
            series.values_ms.append(milliseconds)
            action = str(frame.get("action"))
            series.actions[action] = series.actions.get(action, 0) + 1
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def load(
    url: str, groups: list[tuple[list[str], int, int, Series]], think_s: float, seed: int
) -> float:
    start = asyncio.Event()
    tasks = []
    for group, (texts, conversations, count, series) in enumerate(groups):
        for i in range(conversations):
            rng = random.Random(seed + 1000 * group + i)
            tasks.append(asyncio.create_task(conversation(url, texts, count, think_s, rng, start, series)))
    await asyncio.sleep(0.5)  # let every conversation say hello first
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


@contextmanager
def separate_shop(delay_ms: float) -> Iterator[str]:
    """The demo shop under uvicorn in a subprocess; yields its API's base URL."""
    port = free_port()
    env = {**os.environ, "BOT_DEMO_SHOP_DELAY_MS": str(delay_ms)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "bot.api.demo_shop:app_from_environment"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the demo shop did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/demo/api"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def settings_for(
    delay_ms: float | None, sockets: int, shop_url: str | None, max_connections: int | None = None
) -> dict[str, object | None]:
    return {
        "BOT_DEMO_SHOP_DELAY_MS": delay_ms,
        "BOT_BUSINESS_ACTIONS": "false" if delay_ms is None else "true",
        "BOT_ACTIONS_BASE_URL": shop_url,
        # One load generator on one address: the per-address limits would refuse it as abuse.
        "BOT_CHAT_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_ADDRESS_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_NEW_CONVERSATIONS_PER_IP_PER_HOUR": 10 * sockets,
        "BOT_CHAT_SOCKETS_PER_IP": sockets,
        "BOT_HTTP_MAX_CONCURRENCY": sockets + 64,
        "BOT_ACTION_MAX_CONNECTIONS": max_connections or sockets,
    }


async def measure(args: argparse.Namespace, delay_ms: float | None, workdir: Path) -> dict[str, object]:
    with ExitStack() as stack:
        shop_url = None
        if delay_ms is not None and args.shop == "separate":
            shop_url = stack.enter_context(separate_shop(delay_ms))
        return await measure_with(args, delay_ms, workdir, shop_url)


async def measure_with(
    args: argparse.Namespace, delay_ms: float | None, workdir: Path, shop_url: str | None
) -> dict[str, object]:
    lookups_texts = [
        f"where is my order {number}? I ordered as {email}"
        for number, email in orders()
        if number != "NW-10049"
    ]
    other_texts = [text for text in customer_texts() if "order" not in text.lower()]
    sockets = args.conversations + 2 * args.others + 16
    think_s = args.think_ms / 1000
    database = workdir / f"actions-{delay_ms or 0:g}-{time.monotonic_ns()}.sqlite3"
    with running_server(database, settings_for(delay_ms, sockets, shop_url, args.max_connections)) as (
        url,
        pid,
    ):
        alone = Series()
        await load(url, [(other_texts, args.others, args.other_messages, alone)], think_s, args.seed)
        lookups, others = Series(), Series()
        groups = [
            (lookups_texts, args.conversations, args.messages, lookups),
            (other_texts, args.others, args.other_messages, others),
        ]
        cpu_before = cpu_seconds(pid)
        seconds = await load(url, groups, think_s, args.seed + 1)
        server_cpu_s = cpu_seconds(pid) - cpu_before
    return {
        "delay_ms": "off" if delay_ms is None else delay_ms,
        "shop": args.shop,
        "lookup_replies": len(lookups.values_ms),
        "lookup_replies_per_s": round(len(lookups.values_ms) / seconds, 1),
        "lookup_p50_ms": round(lookups.percentile(50), 1),
        "lookup_p95_ms": round(lookups.percentile(95), 1),
        "lookup_actions": lookups.actions,
        "lookup_failures": len(lookups.failures),
        "others_alone_p50_ms": round(alone.percentile(50), 1),
        "others_alone_p95_ms": round(alone.percentile(95), 1),
        "others_during_p50_ms": round(others.percentile(50), 1),
        "others_during_p95_ms": round(others.percentile(95), 1),
        "others_failures": len(others.failures) + len(alone.failures),
        "seconds": round(seconds, 1),
        # The chat server's own CPU (not the shop's, not this client's) per reply of the load.
        "server_cpu_ms_per_reply": round(
            1000 * server_cpu_s / max(1, len(lookups.values_ms) + len(others.values_ms)), 2
        ),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of the server process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _delay(delay: object) -> str:
    return "actions off" if delay == "off" else f"{delay:g} ms"  # type: ignore[str-format]


def report(info: dict[str, object], results: list[dict[str, object]], args: argparse.Namespace) -> None:
    for line in machine_lines(info):
        print(line)
    print(
        f"{args.conversations} conversations x {args.messages} order lookups, {args.others} other "
        f"conversations x {args.other_messages} messages, think time {args.think_ms:g} ms, "
        f"shop: {args.shop} (off: actions off, the lookups get the canned reply)"
    )
    print(
        "shop delay | lookups/s | lookup p50 / p95 ms | answered / fallback | others alone p50 / p95 | "
        "others during p50 / p95 | server CPU per reply"
    )
    for r in results:
        actions = r["lookup_actions"]
        assert isinstance(actions, dict)
        print(
            f"{_delay(r['delay_ms']):>10} | {r['lookup_replies_per_s']:>9} | "
            f"{r['lookup_p50_ms']:>8} / {r['lookup_p95_ms']:<8} | "
            f"{actions.get('answer', 0):>5} / {actions.get('offer_human', 0):<5} | "
            f"{r['others_alone_p50_ms']:>8} / {r['others_alone_p95_ms']:<8} | "
            f"{r['others_during_p50_ms']:>8} / {r['others_during_p95_ms']:<8} | "
            f"{r['server_cpu_ms_per_reply']:>6} ms"
            + (
                f" | failures {r['lookup_failures']}+{r['others_failures']}"
                if r["lookup_failures"] or r["others_failures"]
                else ""
            )
        )


async def main_async(args: argparse.Namespace) -> None:
    info = serving_machine(None)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-actions-") as folder:
        for part in args.delays_ms.split(","):
            delay = None if part.strip() == "off" else float(part)
            results.append(await measure(args, delay, Path(folder)))
            print(json.dumps(results[-1]), file=sys.stderr)
    report(info, results, args)
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))


def main() -> None:
    asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    main()
