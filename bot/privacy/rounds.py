"""Round data sets on disk (``<state_dir>/rounds/<stamp>/``) that hold an erased customer turn.

A round folder lists the message ids of its logged turns in ``turns.json``; a folder written
before that file existed is matched by the (redacted, normalised) text of the erased turns.
A round is rebuilt from the database by the next ``bot retrain``, so a matching folder is
removed whole.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from bot.intents.dataset import read_examples
from bot.learning.round_data import TURNS_FILE, normalise
from bot.privacy.redact import redact


def remove_rounds_with(rounds_dir: Path, message_ids: set[int], customer_texts: Iterable[str]) -> int:
    """Remove every round folder that holds one of the turns; returns how many were removed."""
    if not rounds_dir.is_dir() or not message_ids:
        return 0
    texts = {normalise(redact(text)) for text in customer_texts} - {""}
    removed = 0
    for folder in sorted(path for path in rounds_dir.iterdir() if path.is_dir()):
        if _holds(folder, message_ids, texts):
            shutil.rmtree(folder)
            removed += 1
    return removed


def _holds(folder: Path, message_ids: set[int], texts: set[str]) -> bool:
    turns = folder / TURNS_FILE
    if turns.is_file():
        return not message_ids.isdisjoint(json.loads(turns.read_text(encoding="utf-8")))
    return any(
        normalise(example.text) in texts for table in folder.glob("*.csv") for example in read_examples(table)
    )
