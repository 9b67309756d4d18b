"""The gate on real rounds against the shipped production adapter and the full seed data.

Every candidate is really trained (warm-started from ``default/v2``, fixed seed, the default
recipe of ``bot retrain``) and shared by the module's tests; each is gated on the clean
round's held-out split, as ``bot adapters promote`` would. A normal round that teaches a new
intent passes; a round with damaged training labels is refused, for the reason that fits.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config import PROJECT_ROOT, Settings
from bot.db.migrate import upgrade
from bot.db.session import create_db_engine, create_session_factory
from bot.intents import registry, store
from bot.intents.classifier import load_classifier
from bot.intents.dataset import Example, load_dataset, read_examples, write_examples
from bot.intents.train import TrainingConfig
from bot.intents.training_run import train_and_save
from bot.learning.gate import GateResult
from bot.learning.retrain import gate_for
from bot.learning.round_data import LabelledTurn, RoundData, build_round, is_held_out

PRODUCTION = PROJECT_ROOT / "adapters" / "default" / "v2"
SEED_DATA = PROJECT_ROOT / "data"
TRAINING_SEED = 7
START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# What customers asked in the round; the shipped adapter answers them as gift_card.
GIFT_WRAPPING = [
    "can you gift wrap my order",
    "do you offer gift wrapping",
    "is gift wrapping available for this jacket",
    "can I add wrapping paper and a ribbon",
    "please wrap it as a present",
    "how much does gift wrap cost",
    "can the parcel come wrapped as a gift",
    "I want the sweater wrapped for a birthday",
    "do you wrap presents before shipping",
    "can you put it in gift packaging",
]


def turns_of(examples: list[Example]) -> list[LabelledTurn]:
    return [
        LabelledTurn(i + 1, e.text, e.intent, "alice", START + dt.timedelta(minutes=i))
        for i, e in enumerate(examples)
    ]


class Rounds:
    """Trains candidates into one adapter store, once per module."""

    def __init__(self, root: Path, base_model: str) -> None:
        self.root = root
        self.adapters = root / "adapters"
        self.base_model = base_model
        shutil.copytree(PRODUCTION, self.adapters / "default" / "v2")
        self.count = 0

    def train(
        self, turns: list[LabelledTurn], approved: set[str], damage: Callable[[list[Example]], list[Example]]
    ) -> tuple[str, RoundData]:
        """A candidate trained on ``damage`` applied to the seed training data; the returned round
        (for the gate) is built from the undamaged seed data and the same staff turns."""
        self.count += 1
        seed = self.root / f"seed-{self.count}"
        shutil.copytree(SEED_DATA, seed)
        write_examples(seed / "train.csv", damage(read_examples(seed / "train.csv")))
        trained_round = build_round(seed, turns, approved, self.root / f"train-{self.count}")
        ref, _ = train_and_save(
            load_dataset(trained_round.directory),
            self.base_model,
            self.adapters,
            "default",
            TrainingConfig(seed=TRAINING_SEED, device="cpu"),
            parent="default/v2",
            warm_start=self.adapters / "default" / "v2",
        )
        clean = build_round(SEED_DATA, turns, approved, self.root / f"gate-{self.count}")
        return ref.id, clean


def unchanged(examples: list[Example]) -> list[Example]:
    return examples


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory, base_settings: Settings) -> Rounds:
    return Rounds(tmp_path_factory.mktemp("gate-rounds"), base_settings.base_model)


@pytest.fixture(scope="module")
def production_mistakes() -> list[Example]:
    """Test utterances the shipped adapter gets wrong and that a round would train on."""
    classifier = load_classifier(store.AdapterRef("default", "v2", PRODUCTION), "cpu")
    tests = read_examples(SEED_DATA / "test.csv")
    predictions = classifier.classify([e.text for e in tests])
    wrong = [e for e, p in zip(tests, predictions, strict=True) if p.intent != e.intent]
    return [e for e in wrong if not is_held_out(e.text)][:10]


@pytest.fixture(scope="module")
def new_intent_round(rounds: Rounds) -> tuple[str, RoundData]:
    labels = [Example(text, "gift_wrapping") for text in GIFT_WRAPPING]
    return rounds.train(turns_of(labels), {"gift_wrapping"}, unchanged)


@pytest.fixture(scope="module")
def swapped_round(rounds: Rounds) -> tuple[str, RoundData]:
    swap = {"track_order": "delivery_time", "delivery_time": "track_order"}
    return rounds.train([], set(), lambda seed: [Example(e.text, swap.get(e.intent, e.intent)) for e in seed])


@pytest.fixture(scope="module")
def scrambled_round(rounds: Rounds) -> tuple[str, RoundData]:
    def scramble(seed: list[Example]) -> list[Example]:
        rng = random.Random(TRAINING_SEED)
        intents = sorted({e.intent for e in seed})
        chosen = set(rng.sample(range(len(seed)), k=round(0.3 * len(seed))))
        return [
            Example(e.text, rng.choice([i for i in intents if i != e.intent])) if n in chosen else e
            for n, e in enumerate(seed)
        ]

    return rounds.train([], set(), scramble)


BROKEN_INTENT = "shipping_options"


@pytest.fixture(scope="module")
def intent_breaking_round(rounds: Rounds, production_mistakes: list[Example]) -> tuple[str, RoundData]:
    """Staff fix the production's mistakes, but the seed examples of one intent were relabelled
    to a neighbour (a bad bulk edit): that intent is gone from the candidate."""
    return rounds.train(
        turns_of(production_mistakes),
        set(),
        lambda seed: [
            Example(e.text, "shipping_cost" if e.intent == BROKEN_INTENT else e.intent) for e in seed
        ],
    )


@pytest.fixture
def gate_settings(settings: Settings, rounds: Rounds, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"adapter_dir": rounds.adapters, "adapter_version": "v2", "state_dir": tmp_path / "state"}
    )


@pytest.fixture
def gate_factory(gate_settings: Settings) -> sessionmaker[Session]:
    upgrade(gate_settings.database_url)
    factory = create_session_factory(create_db_engine(gate_settings.database_url))
    registry.sync_from_disk(factory, gate_settings.adapter_dir, "default", "v2")
    return factory


def gate(factory: sessionmaker[Session], settings: Settings, candidate: tuple[str, RoundData]) -> GateResult:
    candidate_id, data = candidate
    return gate_for(factory, settings, candidate_id, data)


@pytest.mark.slow
def test_a_round_adding_an_intent_from_ten_staff_labels_passes(
    gate_factory: sessionmaker[Session], gate_settings: Settings, new_intent_round: tuple[str, RoundData]
) -> None:
    result = gate(gate_factory, gate_settings, new_intent_round)
    assert result.passed, result.report["summary"]
    report = result.report
    assert report["reasons"] == []
    assert report["summary"][0].startswith("Passed")
    [new] = report["held_out"]["new_intents"]
    held_out = [text for text in GIFT_WRAPPING if is_held_out(text)]
    assert new["intent"] == "gift_wrapping" and new["examples"] == len(held_out)
    if len(held_out) < gate_settings.gate_min_new_intent_examples:
        assert not new["judged"]
        assert any("too few to judge" in line for line in report["summary"])
    # The staff labels are learnt: the replay shows them fixed.
    fixed = {row["text"] for row in report["replay"]["changes"]["fixed"]}
    assert len(fixed & set(GIFT_WRAPPING)) >= 8
    # Every intent production knows is in the table, with its interval.
    rows = {row["intent"]: row for row in report["held_out"]["intents"]}
    assert len(rows) == 32 and all(row["examples"] >= 13 for row in rows.values())
    assert all(
        r["accuracy_interval"][0] <= r["accuracy_difference"] <= r["accuracy_interval"][1]
        for r in rows.values()
    )


@pytest.mark.slow
def test_a_candidate_trained_with_two_intents_swapped_is_refused(
    gate_factory: sessionmaker[Session], gate_settings: Settings, swapped_round: tuple[str, RoundData]
) -> None:
    result = gate(gate_factory, gate_settings, swapped_round)
    assert not result.passed
    rows = {row["intent"]: row for row in result.report["held_out"]["intents"]}
    for intent in ("track_order", "delivery_time"):
        assert rows[intent]["verdict"] in ("worse beyond chance", "worse beyond tolerance")
        assert any(reason.startswith(intent) for reason in result.reasons)
    broken = result.report["held_out"]["changes"]["broken"]
    assert {row["label"] for row in broken} >= {"track_order", "delivery_time"}


@pytest.mark.slow
def test_a_candidate_trained_with_thirty_percent_scrambled_labels_is_refused(
    gate_factory: sessionmaker[Session], gate_settings: Settings, scrambled_round: tuple[str, RoundData]
) -> None:
    result = gate(gate_factory, gate_settings, scrambled_round)
    assert not result.passed, result.report["summary"]
    overall = result.report["held_out"]["overall"]
    assert overall["broken"] > overall["fixed"]
    assert result.report["summary"][0].startswith("Refused")


@pytest.mark.slow
def test_a_candidate_that_fixes_the_labelled_turns_but_breaks_an_intent_is_refused(
    gate_factory: sessionmaker[Session],
    gate_settings: Settings,
    intent_breaking_round: tuple[str, RoundData],
    production_mistakes: list[Example],
) -> None:
    result = gate(gate_factory, gate_settings, intent_breaking_round)
    assert not result.passed
    fixed = {row["text"] for row in result.report["replay"]["changes"]["fixed"]}
    assert len(fixed & {e.text for e in production_mistakes}) >= len(production_mistakes) - 1
    assert any(reason.startswith(f"{BROKEN_INTENT} is worse") for reason in result.reasons)
    rows = {row["intent"]: row for row in result.report["held_out"]["intents"]}
    assert rows[BROKEN_INTENT]["candidate_accuracy"] == 0.0
