"""The project's dataset directory format, readable and editable by hand.

A dataset directory holds:

- ``train.csv``: columns ``text,intent``; one utterance per row.
- ``val.csv`` (optional): same columns; chooses thresholds. Missing means a fixed, stratified
  10% slice of ``train.csv``.
- ``test.csv`` (optional): same columns; reported, never tuned on.
- ``out_of_scope.csv`` (optional): utterances that belong to no intent (label ``out_of_scope``).
  Its rows are split in two fixed halves: one joins validation, one joins test.
- ``responses.yml``: ``intent: {title: str, replies: [str, ...]}``.
- ``knowledge/*.md``: one knowledge-base article per file, starting with ``# Title``.

Rows labelled ``out_of_scope`` anywhere are kept as out-of-scope examples, never as a class:
in ``train.csv`` they teach training what lies outside every intent (``train_out_of_scope``).
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

OUT_OF_SCOPE = "out_of_scope"
VALIDATION_FRACTION = 0.1
SPLIT_SEED = 13


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


@dataclass
class IntentDataset:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    labels: list[str] = field(default_factory=list)
    # Out-of-scope training examples: never a class, they push every intent's score down.
    train_out_of_scope: list[Example] = field(default_factory=list)

    @property
    def data_hash(self) -> str:
        return hash_examples(self.train + self.train_out_of_scope)


def read_examples(path: Path) -> list[Example]:
    """Read a ``text,intent`` CSV, refusing (not skipping) rows with an empty text or intent."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "intent"} <= set(reader.fieldnames):
            raise DatasetError(f"{path}: the header must contain the columns text,intent")
        examples, problems = [], []
        for row in reader:
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text or not intent:
                missing = "text" if not text else "intent"
                problems.append(f"{path}:{reader.line_num}: empty {missing}")
                continue
            examples.append(Example(text, intent))
    if problems:
        raise DatasetError("\n".join(problems))
    return examples


def write_examples(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows((example.text, example.intent) for example in examples)


def load_dataset(data_dir: Path) -> IntentDataset:
    data_dir = Path(data_dir)
    train = read_examples(data_dir / "train.csv")
    in_scope = [example for example in train if example.intent != OUT_OF_SCOPE]
    train_out_of_scope = [example for example in train if example.intent == OUT_OF_SCOPE]
    if (data_dir / "val.csv").is_file():
        val = read_examples(data_dir / "val.csv")
    else:
        in_scope, val = stratified_split(in_scope, VALIDATION_FRACTION, SPLIT_SEED)
    test = read_examples(data_dir / "test.csv") if (data_dir / "test.csv").is_file() else []
    if (data_dir / "out_of_scope.csv").is_file():
        oos = read_examples(data_dir / "out_of_scope.csv")
        val += oos[0::2]
        test += oos[1::2]
    labels = sorted({example.intent for example in in_scope})
    if len(labels) < 2:
        raise DatasetError(f"{data_dir / 'train.csv'}: at least two intents are needed")
    return IntentDataset(
        train=in_scope, val=val, test=test, labels=labels, train_out_of_scope=train_out_of_scope
    )


def stratified_split(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Hold out ``fraction`` of each intent (at least one where an intent has three or more)."""
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    rng = random.Random(seed)
    kept, held_out = [], []
    for intent in sorted(by_intent):
        group = sorted(by_intent[intent], key=lambda example: example.text)
        rng.shuffle(group)
        n_held = round(len(group) * fraction) if len(group) >= 3 else 0
        n_held = max(n_held, 1) if len(group) >= 3 else 0
        held_out += group[:n_held]
        kept += group[n_held:]
    return kept, held_out


def hash_examples(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda example: (example.intent, example.text)):
        digest.update(f"{example.intent}\t{example.text}\n".encode())
    return digest.hexdigest()
