"""Load benchmark: many WebSocket customers against the real server on loopback.

Starts the server (``bot serve`` in a subprocess, a fresh database: SQLite in a temporary
folder, or a new database on the PostgreSQL server of ``--database``; ``--workers N`` processes,
with ``--redis``) twice, once with batching on and once with it off, and measures on each:

- one conversation alone: send -> reply latency, p50/p95;
- N concurrent conversations, each sending M messages with think-time: replies/s and
  p50/p95/p99 reply latency (send of the message -> arrival of the bot's reply);
- the server's CPU time per reply under that load, all its processes together (a figure that
  a busy machine disturbs less than the wall-clock ones);
- server peak RSS; with batching on also the RSS growth per idle connection (each one has
  said hello, as the widget does, and then waits).

Every message comes from one address (loopback), so the visitor limits (``BOT_CHAT_*``: messages
a minute, new conversations an hour and sockets per address, concurrent connections) would
refuse the load: the server gets them raised, and the report says so.

The client runs in this process, on the same cores as the server. Run
``python benchmarks/ws_load.py --help`` for the knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

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
    parser.add_argument("--conversations", type=int, default=200, help="concurrent customers (default 200)")
    parser.add_argument("--messages", type=int, default=5, help="messages per customer (default 5)")
    parser.add_argument(
        "--think-ms", type=float, default=100.0, help="mean pause between a reply and the next message"
    )
    parser.add_argument("--single", type=int, default=100, help="messages of the lone conversation")
    parser.add_argument("--idle", type=int, default=5000, help="idle connections to open (0: skip)")
    parser.add_argument("--window-ms", type=float, default=None, help="BOT_BATCH_WINDOW_MS for the server")
    parser.add_argument("--max-batch", type=int, default=None, help="BOT_BATCH_MAX_SIZE for the server")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BOT_INFERENCE_THREADS of the server (default: cores - 1)",
    )
    parser.add_argument("--skip-unbatched", action="store_true", help="measure only with batching on")
    parser.add_argument(
        "--database",
        default=None,
        help="a PostgreSQL URL (postgresql://user@host/db): each run gets a new database on that "
        "server, dropped afterwards (default: a new SQLite file)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (bot serve --workers)")
    parser.add_argument(
        "--redis",
        default=None,
        help="BOT_REDIS_URL of the server (needed for --workers above 1), e.g. redis://127.0.0.1:6379/0",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1 and (args.database is None or args.redis is None):
        parser.error("--workers above 1 needs --database postgresql://... and --redis redis://...")
    if args.database is not None and not args.database.startswith(("postgresql://", "postgres://")):
        parser.error("--database takes a postgresql:// URL (without it: a new SQLite file)")
    return args


@dataclass
class Latencies:
    values_ms: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.values_ms:
            return float("nan")
        ordered = sorted(self.values_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class ModeResult:
    batching: bool
    single_p50_ms: float = 0.0
    single_p95_ms: float = 0.0
    replies: int = 0
    failed: int = 0
    seconds: float = 0.0
    replies_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    server_cpu_ms_per_reply: float = 0.0
    # Per reply under the load, less the idle server's background rate: PostgreSQL
    # transactions, rows and WAL, Redis commands.
    operations_per_reply: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    idle_opened: int = 0
    idle_rss_before_mb: float = 0.0
    idle_rss_after_mb: float = 0.0
    idle_kb_per_connection: float = 0.0
    idle_error: str | None = None


def raise_fd_limit(wanted: int) -> int:
    """Both this client and the server (which inherits the limit) hold one descriptor a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


IDLE_SAMPLE_S = 5.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the worker processes of ``bot serve --workers``)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its descendants (alive ones)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def proc_status_kb(pid: int, key: str) -> int:
    """``key`` (VmRSS, VmHWM) of /proc/PID/status, summed over the process and its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith(key + ":"))
    return total


def wait_until_workers_idle(pid: int, workers: int, timeout_s: float = 600.0) -> None:
    """Every worker loads its own models after the first one answers /healthz: wait until all
    ``workers`` exist and the server has stopped using CPU (loaded and waiting)."""
    deadline = time.monotonic() + timeout_s
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = cpu_seconds(pid)
        if len(process_tree(pid)) > workers and now - before < 0.2:
            return
        before = now
    raise SystemExit(f"the {workers} workers did not settle within {timeout_s:.0f} s")


def visitor_limits(args: argparse.Namespace) -> dict[str, int]:
    """Per-address limits raised so that one load generator is not refused as an abuser."""
    sockets = args.conversations + args.idle + 64
    return {
        "BOT_CHAT_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_ADDRESS_MESSAGES_PER_MINUTE": 100_000,
        "BOT_CHAT_NEW_CONVERSATIONS_PER_IP_PER_HOUR": 10 * sockets,
        "BOT_CHAT_SOCKETS_PER_IP": sockets,
        "BOT_HTTP_MAX_CONCURRENCY": sockets + 64,
    }


def server_settings(args: argparse.Namespace, batching: bool) -> Mapping[str, object | None]:
    return {
        "BOT_BATCHING": "true" if batching else "false",
        "BOT_BATCH_WINDOW_MS": args.window_ms,
        "BOT_BATCH_MAX_SIZE": args.max_batch,
        "BOT_INFERENCE_THREADS": args.threads,
        "BOT_REDIS_URL": args.redis,
        # Runs of the benchmark never see each other's keys, nor a server's.
        "BOT_REDIS_PREFIX": f"ws_load_{uuid.uuid4().hex[:8]}" if args.redis else None,
        **visitor_limits(args),
    }


def operation_counters(database: Path | str, redis_url: str | None) -> dict[str, float]:
    """PostgreSQL's counters for ``database`` (transactions, rows) and for the whole server (WAL
    records and flushes: other clients of the same server count too), Redis's command calls."""
    counters: dict[str, float] = {}
    if isinstance(database, str):
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(database)
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("SELECT pg_stat_force_next_flush()")
            row = connection.execute(
                "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched"
                " FROM pg_stat_database WHERE datname = %s",
                (url.database,),
            ).fetchone()
            wal = connection.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal").fetchone()
        assert row is not None and wal is not None
        names = ("pg commits", "pg rollbacks", "pg rows inserted", "pg rows updated", "pg rows fetched")
        counters.update(zip(names, map(float, row), strict=True))
        wal_names = ("pg WAL records (server)", "pg WAL bytes (server)", "pg WAL flushes (server)")
        counters.update(zip(wal_names, map(float, wal), strict=True))
    if redis_url is not None:
        import redis

        client = redis.Redis.from_url(redis_url)
        stats = client.info("commandstats")
        counters["redis commands (server)"] = float(sum(entry["calls"] for entry in stats.values()))
        client.close()
    return counters


@contextmanager
def fresh_database(args: argparse.Namespace, workdir: Path, name: str) -> Iterator[Path | str]:
    """A new SQLite file, or a new database on ``--database``'s PostgreSQL server (dropped after)."""
    if args.database is None:
        yield workdir / f"{name}.sqlite3"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(args.database)
    database = f"ws_load_{os.getpid()}_{name}"
    admin = server.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def customer(
    url: str,
    texts: list[str],
    messages: int,
    think_s: float,
    rng: random.Random,
    start: asyncio.Event,
    ready: asyncio.Semaphore,
    latencies: Latencies,
    failures: list[str],
) -> None:
    async with connect(url, max_size=None, open_timeout=60) as ws:
        await hello(ws)
        ready.release()
        await start.wait()
        await asyncio.sleep(rng.uniform(0, 2 * think_s))  # customers do not all type at once
        for number in range(messages):
            try:
                milliseconds = await reply_ms(ws, rng.choice(texts), f"m{number}")
            except (TimeoutError, RuntimeError) as error:
                failures.append(repr(error))
                return
            latencies.values_ms.append(milliseconds)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def run_load(
    url: str, texts: list[str], conversations: int, messages: int, think_s: float, seed: int
) -> tuple[Latencies, float, list[str]]:
    latencies, failures = Latencies(), list[str]()
    start, ready = asyncio.Event(), asyncio.Semaphore(0)
    tasks = [
        asyncio.create_task(
            customer(
                url, texts, messages, think_s, random.Random(seed + i), start, ready, latencies, failures
            )
        )
        for i in range(conversations)
    ]
    for _ in range(conversations):
        await ready.acquire()
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    # The last think-time is not work: count until the last reply instead.
    elapsed = time.perf_counter() - started - think_s
    return latencies, max(elapsed, 1e-9), failures


async def single_conversation(url: str, texts: list[str], count: int, seed: int) -> Latencies:
    latencies, rng = Latencies(), random.Random(seed)
    async with connect(url, max_size=None) as ws:
        await hello(ws)
        for number in range(count):
            latencies.values_ms.append(await reply_ms(ws, rng.choice(texts), f"s{number}"))
            await asyncio.sleep(0.02)
    return latencies


async def idle_connections(url: str, count: int, pid: int, result: ModeResult) -> None:
    """Open ``count`` connections that say hello and then wait; record the server's RSS growth."""
    result.idle_rss_before_mb = proc_status_kb(pid, "VmRSS") / 1024
    sockets: list[ClientConnection] = []
    opening = asyncio.Semaphore(64)

    async def open_one() -> None:
        async with opening:
            ws = await connect(url, max_size=None, open_timeout=120, ping_interval=None)
            try:
                await hello(ws)
            except BaseException:
                await ws.close()
                raise
            sockets.append(ws)

    outcomes = await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if errors:
        result.idle_error = f"{len(errors)} of {count} failed to open, first: {errors[0]!r}"
    await asyncio.sleep(2)  # let the server settle before reading its RSS
    result.idle_opened = len(sockets)
    result.idle_rss_after_mb = proc_status_kb(pid, "VmRSS") / 1024
    if result.idle_opened:
        grown_kb = (result.idle_rss_after_mb - result.idle_rss_before_mb) * 1024
        result.idle_kb_per_connection = grown_kb / result.idle_opened
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def measure_mode(
    args: argparse.Namespace, batching: bool, texts: list[str], workdir: Path
) -> ModeResult:
    result = ModeResult(batching=batching)
    label = "on" if batching else "off"
    settings = server_settings(args, batching)
    with (
        fresh_database(args, workdir, "batched" if batching else "unbatched") as database,
        running_server(database, settings, args.workers) as (url, pid),
    ):
        if args.workers > 1:
            wait_until_workers_idle(pid, args.workers)
        print(f"[batching {label}] server up (pid {pid}); warming up", file=sys.stderr)
        await single_conversation(url, texts, 10, args.seed)
        single = await single_conversation(url, texts, args.single, args.seed + 1)
        result.single_p50_ms, result.single_p95_ms = single.percentile(50), single.percentile(95)
        print(f"[batching {label}] {args.conversations} conversations x {args.messages}", file=sys.stderr)
        # The background work (pollers of the registry and the content, the hub's reads) runs
        # with or without customers: measured while idle and taken out of the per-reply counts.
        idle_start, idle_before = time.perf_counter(), operation_counters(database, args.redis)
        await asyncio.sleep(IDLE_SAMPLE_S)
        counted_before = operation_counters(database, args.redis)
        idle_seconds = time.perf_counter() - idle_start
        cpu_before, load_start = cpu_seconds(pid), time.perf_counter()
        load, seconds, failures = await run_load(
            url, texts, args.conversations, args.messages, args.think_ms / 1000, args.seed
        )
        replies = max(1, len(load.values_ms))
        result.server_cpu_ms_per_reply = (cpu_seconds(pid) - cpu_before) * 1000 / replies
        await asyncio.sleep(1.5)  # the last turns' statistics reach PostgreSQL's counters
        counted_after = operation_counters(database, args.redis)
        load_seconds = time.perf_counter() - load_start
        result.operations_per_reply = {
            name: round(
                (
                    counted_after[name]
                    - counted_before[name]
                    - (counted_before[name] - idle_before[name]) * load_seconds / idle_seconds
                )
                / replies,
                2,
            )
            for name in counted_after
        }
        result.replies, result.failed, result.seconds = len(load.values_ms), len(failures), seconds
        result.replies_per_s = result.replies / seconds
        result.p50_ms, result.p95_ms, result.p99_ms = (load.percentile(p) for p in (50, 95, 99))
        if batching and args.idle:
            print(f"[batching {label}] opening {args.idle} idle connections", file=sys.stderr)
            await idle_connections(url, args.idle, pid, result)
        result.peak_rss_mb = proc_status_kb(pid, "VmHWM") / 1024
    return result


def print_report(info: dict[str, Any], results: list[ModeResult], args: argparse.Namespace) -> None:
    print()
    for line in machine_lines(info):
        print(line)
    print(f"load average (1 min) after the run: {info['load_average_after'][0]:.2f}")
    print(
        f"load: {args.conversations} conversations x {args.messages} messages, think {args.think_ms:.0f} ms"
    )
    database = "PostgreSQL (a new database on --database's server)" if args.database else "SQLite"
    redis = f", Redis {args.redis}" if args.redis else ""
    print(f"server: {args.workers} worker process(es), {database}{redis}")
    print(
        "visitor limits raised for the one-address load generator: "
        + ", ".join(f"{name}={value}" for name, value in visitor_limits(args).items())
    )
    print()
    rows = [
        ("one conversation p50 / p95 (ms)", "{r.single_p50_ms:.1f} / {r.single_p95_ms:.1f}"),
        (f"{args.conversations} conversations: replies/s", "{r.replies_per_s:.0f}"),
        ("reply p50 / p95 / p99 (ms)", "{r.p50_ms:.0f} / {r.p95_ms:.0f} / {r.p99_ms:.0f}"),
        ("server CPU per reply (ms)", "{r.server_cpu_ms_per_reply:.1f}"),
        ("replies (failed)", "{r.replies} ({r.failed})"),
        ("server peak RSS (MB)", "{r.peak_rss_mb:.0f}"),
    ]
    print("| figure | " + " | ".join(f"batching {'on' if r.batching else 'off'}" for r in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell.format(r=r) for r in results) + " |")
    for name in results[0].operations_per_reply:
        values = " | ".join(f"{r.operations_per_reply.get(name, float('nan')):.2f}" for r in results)
        print(f"| {name} per reply | {values} |")
    first = results[0]
    if args.idle:
        print(
            f"\nidle connections: {first.idle_opened} held; server RSS {first.idle_rss_before_mb:.0f} -> "
            f"{first.idle_rss_after_mb:.0f} MB, {first.idle_kb_per_connection:.1f} KB per connection"
        )
        if first.idle_error:
            print(f"  {first.idle_error}")
    if len(results) == 2 and results[1].replies_per_s:
        print(f"batched / unbatched replies/s: {results[0].replies_per_s / results[1].replies_per_s:.2f}x")


async def main_async(args: argparse.Namespace) -> None:
    fd_limit = raise_fd_limit(args.idle + args.conversations + 256)
    if fd_limit < args.idle + args.conversations + 64:
        print(f"file descriptor limit {fd_limit}: opening only what it allows", file=sys.stderr)
        args.idle = max(0, fd_limit - args.conversations - 64)
    texts = customer_texts()
    info = serving_machine(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="ws_load_") as workdir:
        for batching in (True,) if args.skip_unbatched else (True, False):
            results.append(await measure_mode(args, batching, texts, Path(workdir)))
    info["load_average_after"] = os.getloadavg()
    info["workers"], info["database"] = args.workers, "postgresql" if args.database else "sqlite"
    print_report(info, results, args)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": [asdict(r) for r in results]}, indent=2))


def main() -> None:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_async(args))
    else:
        uvloop.run(main_async(args))  # a leaner client leaves more of the shared cores to the server


if __name__ == "__main__":
    main()
