"""How long `bot serve` takes from launch until /healthz answers 200, and how quiet it is.

Two kinds of start, each on its own SQLite file and state directory:

- first: a fresh database (every migration runs) and no knowledge-index cache (every article is
  embedded);
- restart: the same database and cache again, as on every later start.

For each start it also counts the base model's weight loads ("Loading weights" progress bars)
and the lines of output that mention a warning. Run it as
``python benchmarks/startup.py [--restarts N]``; it prints the machine and versions first.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (  # noqa: E402
    PROJECT_ROOT,
    STOP_TIMEOUT_S,
    free_port,
    machine_lines,
    serving_machine,
    wait_until_healthy,
)


def timed_start(database: Path, state_dir: Path) -> tuple[float, str]:
    """Seconds from launching `bot serve` until /healthz answers 200, and everything it printed."""
    port = free_port()
    env = {
        **os.environ,
        "BOT_DATABASE_URL": f"sqlite:///{database}",
        "BOT_STATE_DIR": str(state_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [str(Path(sys.executable).with_name("bot")), "serve", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process)
        seconds = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=STOP_TIMEOUT_S)
    return seconds, output.decode(errors="replace")


def describe(kind: str, seconds: float, output: str) -> str:
    loads = output.count("Loading weights: 100%")
    warnings = [line for line in output.splitlines() if "warning" in line.lower()]
    return f"{kind}: healthy after {seconds:.1f} s, {loads} weight load(s), {len(warnings)} warning line(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3, help="Restarts to time after the first start.")
    arguments = parser.parse_args()
    for line in machine_lines(serving_machine(None)):
        print(line)
    with tempfile.TemporaryDirectory(prefix="bot-startup-") as folder:
        database, state_dir = Path(folder) / "bot.sqlite3", Path(folder) / "var"
        seconds, output = timed_start(database, state_dir)
        print(describe("first start (migrations, index embedded)", seconds, output))
        restarts = []
        for number in range(1, arguments.restarts + 1):
            seconds, output = timed_start(database, state_dir)
            restarts.append(seconds)
            print(describe(f"restart {number}", seconds, output))
        if restarts:
            print(f"restart median: {statistics.median(restarts):.1f} s")


if __name__ == "__main__":
    main()
