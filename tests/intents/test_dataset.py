"""The hand-editable dataset format: bad rows named by file and line, a reproducible split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.intents.dataset import (
    OUT_OF_SCOPE,
    DatasetError,
    Example,
    load_dataset,
    read_examples,
    stratified_split,
    write_examples,
)


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def examples(per_intent: int, intents: tuple[str, ...] = ("a", "b", "c")) -> list[Example]:
    return [Example(f"{intent} utterance {i}", intent) for intent in intents for i in range(per_intent)]


def test_rows_without_text_or_intent_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "train.csv",
        ["text,intent", "where is my order,track_order", ",track_order", "hello there,", "hi,greeting"],
    )
    with pytest.raises(DatasetError) as error:
        read_examples(path)
    assert str(error.value).splitlines() == [f"{path}:3: empty text", f"{path}:4: empty intent"]


def test_line_numbers_count_physical_lines_after_a_quoted_multiline_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", ["text,intent", '"two\nlines",greeting', "   ,greeting"])
    with pytest.raises(DatasetError, match=rf"{path}:4: empty text"):
        read_examples(path)


def test_a_file_without_the_text_and_intent_columns_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", ["utterance,label", "hi,greeting"])
    with pytest.raises(DatasetError, match="text,intent"):
        read_examples(path)


def test_a_missing_training_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'train.csv'}: file not found"):
        load_dataset(tmp_path)


def test_written_examples_read_back_unchanged(tmp_path: Path) -> None:
    rows = [Example('a "quoted", comma text', "greeting"), Example("ünïcode ✓", "thanks")]
    write_examples(tmp_path / "out.csv", rows)
    assert read_examples(tmp_path / "out.csv") == rows


def test_stratified_split_is_deterministic() -> None:
    data = examples(20)
    assert stratified_split(data, 0.1, 13) == stratified_split(list(reversed(data)), 0.1, 13)


def test_stratified_split_holds_out_a_share_of_every_intent() -> None:
    kept, held_out = stratified_split(examples(20) + examples(3, ("small",)), 0.1, 13)
    assert Counter(e.intent for e in held_out) == {"a": 2, "b": 2, "c": 2, "small": 1}
    assert set(kept).isdisjoint(held_out)
    assert len(kept) + len(held_out) == 63


def test_stratified_split_depends_on_the_seed() -> None:
    data = examples(20)
    assert stratified_split(data, 0.1, 13)[1] != stratified_split(data, 0.1, 14)[1]


def test_intents_with_fewer_than_three_examples_are_all_kept_for_training() -> None:
    kept, held_out = stratified_split(examples(2), 0.5, 13)
    assert held_out == [] and len(kept) == 6


def test_shipped_dataset_has_enough_rows_and_splits_out_of_scope_in_halves() -> None:
    dataset = load_dataset(PROJECT_ROOT / "data")
    assert len(dataset.labels) >= 30 and OUT_OF_SCOPE not in dataset.labels
    training_rows = Counter(e.intent for e in dataset.train + dataset.val if e.intent != OUT_OF_SCOPE)
    test_rows = Counter(e.intent for e in dataset.test if e.intent != OUT_OF_SCOPE)
    assert min(training_rows.values()) >= 40 and min(test_rows.values()) >= 10
    assert set(test_rows) == set(dataset.labels)
    assert {e.intent for e in dataset.val} - {OUT_OF_SCOPE} == set(dataset.labels)
    val_oos = sum(e.intent == OUT_OF_SCOPE for e in dataset.val)
    test_oos = sum(e.intent == OUT_OF_SCOPE for e in dataset.test)
    assert val_oos > 0 and abs(val_oos - test_oos) <= 1
    assert set(dataset.train).isdisjoint(dataset.val)


def test_a_dataset_with_one_intent_is_refused(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", ["text,intent", "hi,greeting", "hello,greeting", "hey,greeting"])
    with pytest.raises(DatasetError, match="at least two intents"):
        load_dataset(tmp_path)


def test_data_hash_changes_when_a_training_row_changes(tmp_path: Path) -> None:
    rows = (
        ["text,intent"] + [f"hello {i},greeting" for i in range(5)] + [f"bye {i},goodbye" for i in range(5)]
    )
    write_csv(tmp_path / "train.csv", rows)
    first = load_dataset(tmp_path).data_hash
    assert load_dataset(tmp_path).data_hash == first
    write_csv(tmp_path / "train.csv", rows[:-1] + ["bye for now,goodbye"])
    assert load_dataset(tmp_path).data_hash != first


def test_out_of_scope_training_rows_are_kept_apart_from_the_intents(tmp_path: Path) -> None:
    rows = [f"hello {i},greeting" for i in range(5)] + [f"bye {i},goodbye" for i in range(5)]
    write_csv(tmp_path / "train.csv", ["text,intent", *rows, f"play some music,{OUT_OF_SCOPE}"])
    dataset = load_dataset(tmp_path)
    assert dataset.train_out_of_scope == [Example("play some music", OUT_OF_SCOPE)]
    assert dataset.labels == ["goodbye", "greeting"]
    assert all(e.intent != OUT_OF_SCOPE for e in dataset.train + dataset.val)
    without = load_dataset(write_csv_dir(tmp_path / "without", ["text,intent", *rows]))
    assert without.train_out_of_scope == [] and without.data_hash != dataset.data_hash


def write_csv_dir(directory: Path, lines: list[str]) -> Path:
    directory.mkdir()
    write_csv(directory / "train.csv", lines)
    return directory
