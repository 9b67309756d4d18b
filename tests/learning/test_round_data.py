"""A round's dataset: staff corrections always train (never diverted to validation), the held-out
split is fixed by text, the newest label of a text wins, unapproved intents wait."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.intents.dataset import OUT_OF_SCOPE, Example, load_dataset, read_examples, write_examples
from bot.learning.round_data import LabelledTurn, build_round, is_held_out

INTENTS = ["track_order", "return_item", "exchange_item"]
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def seed_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    train = [Example(f"{intent} seed utterance {i}", intent) for intent in INTENTS for i in range(12)]
    write_examples(seed / "train.csv", train)
    write_examples(seed / "test.csv", [Example(f"{intent} test utterance", intent) for intent in INTENTS])
    write_examples(seed / "out_of_scope.csv", [Example("what is the weather", OUT_OF_SCOPE)])
    return seed


def turn(number: int, text: str, intent: str) -> LabelledTurn:
    return LabelledTurn(number, text, intent, "alice", START + dt.timedelta(minutes=number))


def corrections(count: int, held_out: bool) -> list[str]:
    texts = (f"instead of a refund I want another size, case {i}" for i in range(1000))
    return [text for text in texts if is_held_out(text) is held_out][:count]


def test_every_staff_correction_trains_and_validation_comes_from_the_seed(tmp_path: Path) -> None:
    training_texts, held_out_texts = corrections(12, held_out=False), corrections(3, held_out=True)
    turns = [turn(i, text, "exchange_item") for i, text in enumerate(training_texts + held_out_texts)]
    result = build_round(seed_dir(tmp_path), turns, set(), tmp_path / "round")

    train = {e.text for e in read_examples(result.directory / "train.csv")}
    val = {e.text for e in read_examples(result.directory / "val.csv")}
    test = {e.text for e in read_examples(result.directory / "test.csv")}
    assert set(training_texts) <= train and not set(training_texts) & (val | test)
    assert set(held_out_texts) <= test and not set(held_out_texts) & train
    seed_texts = {e.text for e in read_examples(tmp_path / "seed" / "train.csv")}
    assert val and val <= seed_texts and not val & train
    # The loader uses that validation slice as written, rather than cutting one from train.csv.
    loaded = load_dataset(result.directory)
    assert set(training_texts) <= {e.text for e in loaded.train}
    assert {e.text for e in loaded.val if e.intent != OUT_OF_SCOPE} == val


def test_newest_label_wins_and_unapproved_intents_wait(tmp_path: Path) -> None:
    (text,) = corrections(1, held_out=False)
    turns = [
        turn(1, text, "return_item"),
        turn(2, text, "exchange_item"),  # a later judgement of the same text
        turn(3, "can you gift wrap it", "gift_wrapping"),  # proposed, not approved
        turn(4, "tell me a joke", OUT_OF_SCOPE),
    ]
    result = build_round(seed_dir(tmp_path), turns, set(), tmp_path / "round")
    labels = [e.intent for e in read_examples(result.directory / "train.csv") if e.text == text]
    assert labels == ["exchange_item"]
    assert result.skipped_unapproved == 1
    oos = {e.text for e in read_examples(result.directory / "out_of_scope.csv")}
    assert "tell me a joke" in oos

    approved = build_round(seed_dir(tmp_path), turns, {"gift_wrapping"}, tmp_path / "round2")
    assert approved.skipped_unapproved == 0
    assert any(e.intent == "gift_wrapping" for e in approved.replay)


def test_staff_marked_out_of_scope_messages_train_the_background_class(tmp_path: Path) -> None:
    texts = (f"can you recommend a good film for tonight, case {i}" for i in range(1000))
    trained, held_out = [], []
    for text in texts:
        (held_out if is_held_out(text) else trained).append(text)
        if len(trained) >= 2 and held_out:
            break
    turns = [turn(i, text, OUT_OF_SCOPE) for i, text in enumerate(trained[:2] + held_out[:1])]
    result = build_round(seed_dir(tmp_path), turns, set(), tmp_path / "round")

    loaded = load_dataset(result.directory)
    assert {e.text for e in loaded.train_out_of_scope} == set(trained[:2])
    assert OUT_OF_SCOPE not in loaded.labels
    evaluation = {e.text for e in read_examples(result.directory / "out_of_scope.csv")}
    assert evaluation == {"what is the weather", held_out[0]}
