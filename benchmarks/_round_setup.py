"""What the round benchmarks share: a throw-away adapter store and state directory, and a
database with 50 staff labels on top of the shipped seed (10 of them a new, approved intent).

The round writes its candidate into the adapter store, so the benchmarks never use the
project's own ``adapters/``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from benchmarks._harness import PROJECT_ROOT

PRODUCTION = ("default", "v2")
NEW_INTENT = "gift_wrapping"
# What the operator saw: customers asking for gift wrapping, answered as gift_card.
GIFT_WRAPPING = [
    "can you gift wrap my order?",
    "do you offer gift wrapping",
    "I'd like this wrapped as a present",
    "is gift wrap available for the sweater",
    "please wrap the parcel in gift paper",
    "how much does gift wrapping cost",
    "can I add wrapping paper and a ribbon",
    "wrap it as a birthday present please",
    "do you do present wrapping at checkout",
    "I want the items gift-wrapped separately",
]
LABELS = 50


def round_store(directory: Path) -> dict[str, str]:
    """A copy of the production adapter and an empty state directory; the ``BOT_*`` settings."""
    name, version = PRODUCTION
    adapters = directory / "adapters"
    shutil.copytree(PROJECT_ROOT / "adapters" / name / version, adapters / name / version)
    return {
        "BOT_ADAPTER_DIR": str(adapters),
        "BOT_ADAPTER_VERSION": version,
        "BOT_STATE_DIR": str(directory / "state"),
    }


def labelled_turns() -> list[tuple[str, str]]:
    """(text, intent): the new intent's ten turns, then 40 customer phrasings of known intents."""
    with (PROJECT_ROOT / "data" / "test.csv").open(newline="", encoding="utf-8") as handle:
        known = [(row["text"], row["intent"]) for row in csv.DictReader(handle)]
    # Every tenth test utterance, as a customer would open it: a new text, not a seed duplicate.
    rephrased = [(f"hi there, {text}", intent) for text, intent in known[:: max(1, len(known) // 40)]]
    turns = [(text, NEW_INTENT) for text in GIFT_WRAPPING] + rephrased
    return turns[:LABELS]


def seed_labels(database_url: str, operator: str = "olga") -> int:
    """Store the labelled turns as one customer's conversation, labelled and approved by staff."""
    from bot.db import chat_store
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents.dataset import read_examples
    from bot.staff import labels

    upgrade(database_url)
    engine = create_db_engine(database_url)
    factory = create_session_factory(engine)
    known = {e.intent for e in read_examples(PROJECT_ROOT / "data" / "train.csv")}
    conversation, _ = chat_store.open_conversation(factory, None)
    turns = labelled_turns()
    for i, (text, intent) in enumerate(turns):
        message, _ = chat_store.add_customer_message(factory, conversation.id, f"label-{i}", text)
        labels.add_staff_label(factory, message.id, intent, known, operator, propose=intent == NEW_INTENT)
    labels.decide_proposal(factory, NEW_INTENT, True, operator)
    engine.dispose()
    return len(turns)
