"""Round data on disk (under ``<state_dir>/rounds``) and gate reports that hold an erased turn.

A round's data folder lists the message ids of its logged turns in ``turns.json``; a folder
written before that file existed is matched by the (redacted, normalised) text of the erased
turns. A round's data is rebuilt from the database by the next round, so a matching data
folder is removed whole. Gate reports (``*.json`` beside the data, and the ``report`` of
promotion events) quote the texts whose prediction changed; those quotes are replaced.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.intents.dataset import read_examples
from bot.learning.round_data import TURNS_FILE, normalise
from bot.privacy.redact import redact

ERASED_TEXT = "[erased]"


def erased_texts(customer_texts: Iterable[str]) -> set[str]:
    """The erased turns as rounds and reports hold them: redacted, then normalised."""
    return {normalise(redact(text)) for text in customer_texts} - {""}


def remove_rounds_with(rounds_dir: Path, message_ids: set[int], texts: set[str]) -> int:
    """Remove every round data folder holding one of the turns, scrub the reports beside them;
    returns how many data folders were removed."""
    if not rounds_dir.is_dir() or not (message_ids or texts):
        return 0
    removed = 0
    for folder in _data_folders(rounds_dir):
        if _holds(folder, message_ids, texts):
            shutil.rmtree(folder)
            removed += 1
    for path in rounds_dir.rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        scrubbed = scrub_quotes(record, texts)
        if scrubbed != record:
            path.write_text(json.dumps(scrubbed, indent=2), encoding="utf-8")
    return removed


def scrub_quotes(value: Any, texts: set[str]) -> Any:
    """``value`` with every ``"text"`` field that quotes an erased turn replaced."""
    if isinstance(value, list):
        return [scrub_quotes(item, texts) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: ERASED_TEXT
        if key == "text" and isinstance(item, str) and normalise(item) in texts
        else scrub_quotes(item, texts)
        for key, item in value.items()
    }


def _data_folders(rounds_dir: Path) -> list[Path]:
    folders = {path.parent for path in rounds_dir.rglob(TURNS_FILE)}
    folders |= {path.parent for path in rounds_dir.rglob("*.csv")}
    # Deepest first; a folder already removed with its parent is skipped by _holds.
    return sorted(folders, key=lambda path: len(path.parts), reverse=True)


def _holds(folder: Path, message_ids: set[int], texts: set[str]) -> bool:
    if not folder.is_dir():
        return False
    turns = folder / TURNS_FILE
    if turns.is_file():
        return not message_ids.isdisjoint(json.loads(turns.read_text(encoding="utf-8")))
    return any(
        normalise(example.text) in texts for table in folder.glob("*.csv") for example in read_examples(table)
    )
