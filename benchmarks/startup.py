"""How long `bot serve` takes from launch until /healthz answers 200, and how quiet it is.

Two kinds of start, each on its own SQLite file and state directory:

- first: a fresh database (every migration runs) and no knowledge-index cache (every article is
  embedded);
- restart: the same database and cache again, as on every later start.

For each start it also reports the CPU time the server used until then (on a busy machine the
wall time mostly measures the other work; the CPU time is what a quiet machine would wait,
start-up being single-threaded), counts the base model's weight loads ("Loading weights"
progress bars) and the lines of output that mention a warning. Run it as
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


def timed_start(database: Path, state_dir: Path) -> tuple[float, float, str]:
    """Seconds from launching `bot serve` until /healthz answers 200, the CPU seconds the server
    used until then, and everything it printed."""
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
        cpu_seconds = cpu_time(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=STOP_TIMEOUT_S)
    return seconds, cpu_seconds, output.decode(errors="replace")


def cpu_time(pid: int) -> float:
    """User and system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def describe(kind: str, seconds: float, cpu_seconds: float, output: str) -> str:
    loads = output.count("Loading weights: 100%")
    warnings = [line for line in output.splitlines() if "warning" in line.lower()]
    return (
        f"{kind}: healthy after {seconds:.1f} s (CPU {cpu_seconds:.1f} s), {loads} weight load(s), "
        f"{len(warnings)} warning line(s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3, help="Restarts to time after the first start.")
    arguments = parser.parse_args()
    for line in machine_lines(serving_machine(None)):
        print(line)
    with tempfile.TemporaryDirectory(prefix="bot-startup-") as folder:
        database, state_dir = Path(folder) / "bot.sqlite3", Path(folder) / "var"
        print(describe("first start (migrations, index embedded)", *timed_start(database, state_dir)))
        restarts = [timed_start(database, state_dir) for _ in range(arguments.restarts)]
        for number, (seconds, cpu_seconds, output) in enumerate(restarts, start=1):
            print(describe(f"restart {number}", seconds, cpu_seconds, output))
        if restarts:
            wall = statistics.median(seconds for seconds, _, _ in restarts)
            cpu = statistics.median(cpu_seconds for _, cpu_seconds, _ in restarts)
            print(f"restart median: {wall:.1f} s (CPU {cpu:.1f} s)")
        print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
