"""`bot serve` as a newcomer starts it: the shipped defaults on a fresh SQLite file. Its start-up
output carries no warning, and the base model's weights are read once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

from bot.config import PROJECT_ROOT

# Generous: this only bounds a hung start. The start time is measured by benchmarks/startup.py.
START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_until_healthy(tmp_path: Path, state_dir: Path) -> str:
    """Start `bot serve`, wait for /healthz to answer 200, stop it with Ctrl-C; its output.
    ``state_dir`` is the test session's, where the knowledge index may be cached already."""
    port = free_port()
    env = {
        **os.environ,
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "BOT_STATE_DIR": str(state_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(port):
            assert process.poll() is None, f"the server exited with {process.returncode}"
            assert time.monotonic() < deadline, f"no healthy server within {START_TIMEOUT_S:.0f} s"
            time.sleep(0.25)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    return output.decode(errors="replace")


def healthy(port: int) -> bool:
    with suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        return bool(response.status == 200)
    return False


def test_serve_starts_without_a_warning_and_reads_the_base_model_once(
    tmp_path: Path, state_dir: Path
) -> None:
    output = serve_until_healthy(tmp_path, state_dir)
    assert "Application startup complete." in output
    assert "warning" not in output.lower(), output
    assert output.count("Loading weights: 100%") == 1, output
