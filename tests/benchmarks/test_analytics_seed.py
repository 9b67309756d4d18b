"""The analytics benchmark still runs: a small seed on PostgreSQL, every request timed and printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.config import PROJECT_ROOT, sqlalchemy_url


def test_the_benchmark_seeds_builds_the_rollups_and_times_every_request(
    postgres_server_url: str, tmp_path: Path
) -> None:
    database = f"analytics_bench_{uuid.uuid4().hex[:10]}"
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        str(PROJECT_ROOT / "benchmarks" / "analytics_seed.py"),
        "--server",
        postgres_server_url,
        "--database",
        database,
        "--conversations",
        "400",
        "--days",
        "20",
        "--repeat",
        "1",
        "--json",
        str(results),
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    finally:
        admin = create_engine(sqlalchemy_url(postgres_server_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
    assert run.returncode == 0, run.stderr
    assert "3200 messages" in run.stdout
    built = re.search(r"built the roll-ups of (\d+) days", run.stdout)
    assert built is not None and 18 <= int(built.group(1)) <= 20  # around midnight, the last days are open
    reported = json.loads(results.read_text())
    names = [row["request"] for row in reported["requests"]]
    assert names == [
        "summary, all adapters",
        "summary, bench/v2",
        "timeseries per day, all",
        "timeseries per week, all",
        "timeseries per day, bench/v2",
        "business actions, all",
        "summary after a late thumb 6 days back",
    ]
    assert all(row["best_ms"] > 0 for row in reported["requests"])
