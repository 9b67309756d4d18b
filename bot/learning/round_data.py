"""Build one fine-tuning round's dataset from the seed data and staff-reviewed conversation turns.

Only labels set by staff count (a customer's suggestion click is a candidate until a staff
member confirms it). Logged text is redacted before it is written anywhere. A turn goes to the
held-out split by a hash of its normalised text, so the same utterance lands on the same side
in every round and rounds stay comparable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Label, Message, RetainedTrainingTurn
from bot.intents.dataset import (
    OUT_OF_SCOPE,
    SPLIT_SEED,
    VALIDATION_FRACTION,
    Example,
    read_examples,
    stratified_split,
    write_examples,
)
from bot.privacy.redact import redact

STAFF = "staff"
# The message ids of the logged turns in a round folder, so that an erasure can find the folder.
TURNS_FILE = "turns.json"
HELD_OUT_BUCKETS = 5  # one bucket in five is held out


@dataclass(frozen=True)
class LabelledTurn:
    message_id: int
    text: str
    intent: str
    labelled_by: str | None
    labelled_at: dt.datetime


@dataclass(frozen=True)
class RoundData:
    directory: Path
    train: list[Example]
    held_out: list[Example]
    replay: list[Example]
    skipped_unapproved: int
    # Logged turns (message ids) whose text is in the round's files: what an adapter learns from.
    message_ids: list[int]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def is_held_out(text: str) -> bool:
    digest = hashlib.sha256(normalise(text).encode()).digest()
    return digest[0] % HELD_OUT_BUCKETS == 0


def staff_labelled_turns(factory: sessionmaker[Session]) -> list[LabelledTurn]:
    """Customer turns whose newest label was set by staff, with that label, and the turns that
    retention kept (redacted) from conversations it erased."""
    with factory() as session:
        rows = session.execute(
            select(Label, Message.text)
            .join(Message, Message.id == Label.message_id)
            .where(Message.role == "user")
            .order_by(Label.message_id, Label.id)
        ).all()
        retained = session.scalars(select(RetainedTrainingTurn)).all()
    newest: dict[int, tuple[Label, str]] = {}
    for label, text in rows:
        newest[label.message_id] = (label, text)
    live = [
        LabelledTurn(label.message_id, redact(text), label.intent, label.created_by, label.created_at)
        for label, text in newest.values()
        if label.source == STAFF
    ]
    kept = [
        LabelledTurn(turn.message_id, redact(turn.text), turn.intent, turn.labelled_by, turn.labelled_at)
        for turn in retained
        if turn.message_id not in newest
    ]
    return live + kept


def build_round(
    seed_dir: Path, turns: list[LabelledTurn], approved_intents: set[str], out_dir: Path
) -> RoundData:
    """Write train.csv (with staff-marked out-of-scope messages), val.csv (from the seed data),
    test.csv (fixed held-out) and out_of_scope.csv for one round."""
    seed_train = read_examples(seed_dir / "train.csv")
    seed_test = read_examples(seed_dir / "test.csv") if (seed_dir / "test.csv").is_file() else []
    seed_oos = (
        read_examples(seed_dir / "out_of_scope.csv") if (seed_dir / "out_of_scope.csv").is_file() else []
    )
    label_set = {e.intent for e in seed_train} | approved_intents
    accepted, skipped = [], 0
    for turn in sorted(turns, key=lambda t: t.labelled_at):
        if turn.intent == OUT_OF_SCOPE or turn.intent in label_set:
            accepted.append(turn)
        else:
            skipped += 1  # a proposed intent that no operator has approved yet
    kept = _dedupe(accepted)
    logged = [Example(turn.text, turn.intent) for turn in kept]
    logged_texts = {normalise(e.text) for e in logged}
    # A staff label overrides a seed example with the same text: it is the newer judgement.
    seed_train = [e for e in seed_train if normalise(e.text) not in logged_texts]
    seed_test = [e for e in seed_test if normalise(e.text) not in logged_texts]

    in_scope_logged = [e for e in logged if e.intent != OUT_OF_SCOPE]
    oos_logged = [e for e in logged if e.intent == OUT_OF_SCOPE]
    # A message staff marked out of scope trains the background class like a correction trains
    # its intent; the held-out share joins the seed's out-of-scope set for calibration and test.
    oos_train = [e for e in oos_logged if not is_held_out(e.text)]
    oos_eval = seed_oos + [e for e in oos_logged if is_held_out(e.text)]
    # The validation slice (temperature, thresholds) comes from the seed data alone: left to
    # the loader, a fixed 10% of train.csv, it would now and then take a staff correction,
    # the example the round exists for, away from training.
    seed_train, val = stratified_split(seed_train, VALIDATION_FRACTION, SPLIT_SEED)
    train = seed_train + [e for e in in_scope_logged if not is_held_out(e.text)]
    held_out = seed_test + [e for e in in_scope_logged if is_held_out(e.text)]

    out_dir.mkdir(parents=True, exist_ok=True)
    write_examples(out_dir / "train.csv", train + oos_train)
    write_examples(out_dir / "val.csv", val)
    write_examples(out_dir / "test.csv", held_out)
    write_examples(out_dir / "out_of_scope.csv", oos_eval)
    message_ids = sorted(turn.message_id for turn in kept)
    (out_dir / TURNS_FILE).write_text(json.dumps(message_ids), encoding="utf-8")
    return RoundData(out_dir, train, held_out, in_scope_logged, skipped, message_ids)


def _dedupe(turns: list[LabelledTurn]) -> list[LabelledTurn]:
    """Keep the last label of each normalised text (turns come oldest first)."""
    by_text: dict[str, LabelledTurn] = {}
    for turn in turns:
        by_text[normalise(turn.text)] = turn
    return list(by_text.values())
