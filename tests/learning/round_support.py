"""Helpers for tests that run real learning rounds: a short round's settings, waiting for a round."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import PROJECT_ROOT, Settings
from bot.intents.dataset import read_examples, write_examples

PRODUCTION = "default/v2"
ROUND_TIMEOUT_S = 300.0
FINISHED = ("succeeded", "failed", "cancelled")
SEED_PER_INTENT = 12


def short_round_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped production adapter alone, and the seed cut to 12 utterances an intent.

    Warm-started from production, a round keeps what it knows with far fewer seed examples;
    the cut keeps a test's round to seconds of training. The test split stays whole, so the
    gate judges the candidate on the same held-out utterances as a full round.
    """
    adapters = tmp_path / "adapters"
    shutil.copytree(PROJECT_ROOT / "adapters" / PRODUCTION, adapters / PRODUCTION)
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data)
    per_intent: dict[str, int] = {}
    seed = []
    for example in read_examples(data / "train.csv"):
        per_intent[example.intent] = per_intent.get(example.intent, 0) + 1
        if per_intent[example.intent] <= SEED_PER_INTENT:
            seed.append(example)
    write_examples(data / "train.csv", seed)
    return settings.model_copy(
        update={
            "adapter_dir": adapters,
            "adapter_version": PRODUCTION.split("/")[1],
            "data_dir": data,
            "state_dir": tmp_path / "state",
            "round_threads": 1,
            "adapter_poll_seconds": 0.2,
        }
    )


def wait_for(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll ``read`` until ``done`` holds for what it returns (or fail after ROUND_TIMEOUT_S)."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while not done(record := read()):
        assert time.monotonic() < deadline, f"the round did not get there in time: {record}"
        time.sleep(0.2)
    return record
