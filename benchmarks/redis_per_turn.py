"""What one customer turn costs Redis when several processes share it (``BOT_REDIS_URL``).

Starts a private ``redis-server`` (so its command statistics count this run only) and one
``bot serve`` on PostgreSQL using it, sends ``--turns`` customer messages over
``--conversations`` sockets, and prints Redis's commands per turn (from ``INFO commandstats``)
with the server-side microseconds each took, plus the round trip of the turn lock's two commands
measured from Python. These are the inputs of the capacity estimate in the README (Running
several processes). Run as ``python benchmarks/redis_per_turn.py --database postgresql://...``;
it prints the machine and versions first.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    customer_texts,
    free_port,
    hello,
    machine_lines,
    reply_ms,
    running_server,
    serving_machine,
)


def command_stats(client: redis.Redis) -> dict[str, tuple[int, float]]:
    """Calls and total microseconds per command since the server started."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): (int(values["calls"]), float(values["usec"]))
        for name, values in stats.items()
    }


async def conversation(url: str, texts: list[str], number: int) -> list[float]:
    async with connect(url) as ws:
        await hello(ws)
        return [await reply_ms(ws, text, f"{number}-{index}") for index, text in enumerate(texts)]


async def customers(url: str, conversations: int, turns: int) -> list[float]:
    texts = customer_texts()
    each = max(1, turns // conversations)
    batches = [[texts[(n * each + i) % len(texts)] for i in range(each)] for n in range(conversations)]
    results = await asyncio.gather(*(conversation(url, batch, n) for n, batch in enumerate(batches)))
    return [ms for result in results for ms in result]


def lock_round_trip_ms(client: redis.Redis, samples: int = 2000) -> float:
    """Median time of the turn lock's SET NX PX plus its compare-and-delete, from Python."""
    release = client.register_script(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    )
    timings = []
    for index in range(samples):
        key, token = f"bench:turn:{index}", uuid.uuid4().hex
        started = time.perf_counter()
        client.set(key, token, nx=True, px=10_000)
        release(keys=[key], args=[token])
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="postgresql://... (a database of its own)")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed")
    print("\n".join(machine_lines(serving_machine(None))))
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.1)
            redis_url = f"redis://127.0.0.1:{port}/0"
            settings = {
                "BOT_REDIS_URL": redis_url,
                # Every customer here is 127.0.0.1: the limits still count (in Redis), but high.
                "BOT_CHAT_ADDRESS_MESSAGES_PER_MINUTE": 1_000_000,
                "BOT_CHAT_MESSAGES_PER_MINUTE": 1_000_000,
                "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": 1_000_000,
                "BOT_CHAT_NEW_CONVERSATIONS_PER_IP_PER_HOUR": 1_000_000,
                "BOT_CHAT_SOCKETS_PER_IP": 1_000_000,
            }
            with running_server(args.database, settings) as (url, _pid):
                asyncio.run(customers(url, 2, 4))  # warm-up: first turns load lazily
                before = command_stats(client)
                started = time.perf_counter()
                latencies = asyncio.run(customers(url, args.conversations, args.turns))
                elapsed = time.perf_counter() - started
                after = command_stats(client)
            turns = len(latencies)
            print(f"redis {client.info('server')['redis_version']}; {turns} turns in {elapsed:.1f} s")
            print(f"reply p50 {statistics.median(latencies):.0f} ms")
            total_calls = 0
            total_usec = 0.0
            for name in sorted(after):
                calls = after[name][0] - before.get(name, (0, 0.0))[0]
                usec = after[name][1] - before.get(name, (0, 0.0))[1]
                if calls <= 0 or name in ("info", "ping"):
                    continue
                total_calls += calls
                total_usec += usec
                print(f"  {name:12s} {calls / turns:6.2f} per turn, {usec / calls:6.1f} us each in Redis")
            print(
                f"all commands: {total_calls / turns:.2f} per turn, "
                f"{total_usec / turns:.0f} us of Redis CPU a turn"
            )
            print(
                f"turn lock (SET NX PX + release) round trip from Python: {lock_round_trip_ms(client):.3f} ms"
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
