"""What the benchmarks share: the real server in a subprocess, the customer messages they send,
and the machine and library versions printed next to every figure.

The benchmarks run as scripts (``python benchmarks/ws_load.py``); each puts the project root on
``sys.path`` and imports this module as ``benchmarks._harness``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path

from websockets.asyncio.client import ClientConnection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 60.0
# A message of this intent queues the chat for a person, after which the bot may stay silent.
HANDOFF_INTENT = "human_agent"


def customer_texts() -> list[str]:
    """The shipped test utterances, bot turns only (no request for a person)."""
    with (PROJECT_ROOT / "data" / "test.csv").open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row["intent"] != HANDOFF_INTENT]


async def hello(ws: ClientConnection) -> None:
    """Start a conversation, as the widget does on its first connection."""
    await ws.send(json.dumps({"type": "hello"}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass


async def reply_ms(ws: ClientConnection, text: str, client_id: str) -> float:
    """Milliseconds from sending ``text`` to the bot's reply to it (the message naming its seq).

    Raises RuntimeError when the server refuses the message, TimeoutError after
    ``REPLY_TIMEOUT_S``."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    acked_seq = None
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "error":
                raise RuntimeError(f"the server refused message {client_id}: {frame}")
            if frame["type"] == "ack" and frame.get("client_id") == client_id:
                acked_seq = frame["seq"]
            elif frame["type"] == "message" and acked_seq is not None and frame.get("reply_to") == acked_seq:
                return (time.perf_counter() - started) * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    database: Path | str, settings: Mapping[str, object | None], workers: int = 1
) -> Iterator[tuple[str, int]]:
    """``bot serve`` on a free loopback port; yields the chat WebSocket URL and the server's pid
    (with ``workers`` above 1, the parent of the worker processes). ``database`` is a SQLite file
    (a Path) or a database URL. ``settings`` are ``BOT_*`` variables (None: the default).
    Stopped with SIGINT, as a person would, so it shuts down cleanly."""
    port = free_port()
    env = {
        **os.environ,
        "BOT_DATABASE_URL": f"sqlite:///{database}" if isinstance(database, Path) else database,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.update({name: str(value) for name, value in settings.items() if value is not None})
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen([*command, "--log-level", "warning"], cwd=PROJECT_ROOT, env=env)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield f"ws://127.0.0.1:{port}/ws/chat", process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited during start-up with code {process.returncode}")
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"the server did not answer {url} within {START_TIMEOUT_S:.0f} s")


def cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for package in packages:
        with suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


SERVING_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "sentence-transformers",
    "fastapi",
    "uvicorn",
    "websockets",
)


def serving_machine(inference_threads: int | None) -> dict[str, object]:
    """The machine a serving benchmark ran on, with the server's inference thread count."""
    from bot.intents.base_model import cpu_supports_bf16, serving_thread_count

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "inference_threads": serving_thread_count(inference_threads),
        "bf16_native": cpu_supports_bf16(),
        "python": platform.python_version(),
        "versions": package_versions(SERVING_PACKAGES),
        # Other work on the same cores inflates every figure; the load says how much there was.
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def machine_lines(info: Mapping[str, object]) -> list[str]:
    """The top of a report: the machine, the versions, the load before the run."""
    versions, load = info["versions"], info["load_average_before"]
    assert isinstance(versions, dict) and isinstance(load, list)
    bf16 = "yes" if info["bf16_native"] else "no"
    return [
        f"machine: {info['cpu']}, {info['cores']} cores, inference threads "
        f"{info['inference_threads']}, native bf16: {bf16}",
        f"python {info['python']}, " + ", ".join(f"{name} {version}" for name, version in versions.items()),
        f"load average (1 min) before the run: {load[0]:.2f}",
    ]
