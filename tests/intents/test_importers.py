"""`bot data import`: each source format, the bad-row report by line, and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.intents.dataset import OUT_OF_SCOPE, DatasetError, Example, load_dataset, read_examples
from bot.intents.importers import ImportFailed, import_dataset, write_dataset

RASA_YAML = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hey
    - hello there
- synonym: savings
  examples: |
    - pink pig
- intent: track_order
  examples: |
    - where is my [parcel](item)?
    - status of order [12345]{"entity": "order_id"}
"""

RASA_JSON = {
    "rasa_nlu_data": {
        "common_examples": [
            {"text": "hi", "intent": "greet", "entities": []},
            {"text": "where is my parcel", "intent": "track_order", "entities": []},
        ]
    }
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(source: Path, fmt: str) -> list[str]:
    with pytest.raises(ImportFailed) as failure:
        import_dataset(source, fmt)
    return failure.value.problems


def test_csv_reads_text_and_label_columns_and_ignores_others(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", "id,text,label\n1,hello,greet\n2, where is it? ,track\n")
    assert import_dataset(source, "csv").train == [
        Example("hello", "greet"),
        Example("where is it?", "track"),
    ]


def test_csv_accepts_the_banking77_category_column(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", "text,category\nmy card?,card_arrival\n")
    assert import_dataset(source, "csv").train == [Example("my card?", "card_arrival")]


def test_csv_bad_rows_are_reported_by_line_where_the_row_starts(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", 'text,label\nhello,greet\n,greet\n"two\nlines",\nbye,\n ok ,greet\n')
    assert problems_of(source, "csv") == [
        f"{source}:3: empty or missing text",
        f"{source}:4: empty or missing label",
        f"{source}:6: empty or missing label",
    ]


def test_csv_without_a_label_column_is_refused_with_the_columns_it_found(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", "text,tag\nhello,greet\n")
    with pytest.raises(DatasetError, match="found text, tag"):
        import_dataset(source, "csv")


def test_jsonl_reads_objects_and_skips_blank_lines(tmp_path: Path) -> None:
    source = write(
        tmp_path / "a.jsonl", '{"text": "hi", "intent": "greet"}\n\n{"text": "bye", "label": "leave"}\n'
    )
    assert import_dataset(source, "jsonl").train == [Example("hi", "greet"), Example("bye", "leave")]


def test_jsonl_reports_broken_json_non_objects_and_missing_fields_by_line(tmp_path: Path) -> None:
    source = write(
        tmp_path / "a.jsonl",
        '{"text": "hi", "intent": "greet"}\n{"text": "oops"\n["a", "b"]\n{"text": "", "intent": "x"}\n'
        '{"text": "no label"}\n',
    )
    problems = problems_of(source, "jsonl")
    assert [problem.split(": ", 1)[0] for problem in problems] == [f"{source}:{n}" for n in (2, 3, 4, 5)]
    assert "not valid JSON" in problems[0] and "expected a JSON object" in problems[1]
    assert problems[2].endswith("empty or missing text") and problems[3].endswith("empty or missing label")


def test_rasa_yaml_keeps_intents_drops_entity_markup_and_ignores_synonyms(tmp_path: Path) -> None:
    source = write(tmp_path / "nlu.yml", RASA_YAML)
    assert import_dataset(source, "rasa").train == [
        Example("hey", "greet"),
        Example("hello there", "greet"),
        Example("where is my parcel?", "track_order"),
        Example("status of order 12345", "track_order"),
    ]


def test_rasa_yaml_reports_the_line_of_an_empty_example_and_of_an_intent_without_examples(
    tmp_path: Path,
) -> None:
    source = write(
        tmp_path / "nlu.yml", "nlu:\n- intent: greet\n  examples: |\n    - hey\n    -\n- intent: bye\n"
    )
    assert problems_of(source, "rasa") == [
        f"{source}:5: empty or missing text",
        f"{source}:6: intent bye has no examples",
    ]


def test_rasa_json_reads_common_examples_and_reports_a_missing_intent_by_line(tmp_path: Path) -> None:
    good = write(tmp_path / "nlu.json", json.dumps(RASA_JSON, indent=2))
    assert import_dataset(good, "rasa").train == [
        Example("hi", "greet"),
        Example("where is my parcel", "track_order"),
    ]
    broken = {"rasa_nlu_data": {"common_examples": [{"text": "hi", "intent": "greet"}, {"text": "bye"}]}}
    source = write(tmp_path / "broken.json", json.dumps(broken, indent=2))
    assert problems_of(source, "rasa") == [f"{source}:8: empty or missing label"]


def clinc_layout() -> dict[str, list[list[str]]]:
    return {
        "train": [
            ["book a flight", "book_flight"],
            ["what's the weather", "weather"],
            ["fly me", "book_flight"],
        ],
        "val": [["flights please", "book_flight"]],
        "test": [["is it raining", "weather"]],
        "oos_train": [["sing a song", "oos"]],
        "oos_val": [["tell me a joke", "oos"]],
        "oos_test": [["what is love", "oos"]],
    }


def test_clinc_keeps_its_splits_and_turns_oos_into_out_of_scope_examples(tmp_path: Path) -> None:
    source = write(tmp_path / "data_full.json", json.dumps(clinc_layout()))
    imported = import_dataset(source, "clinc")
    assert imported.intents == ["book_flight", "weather"]
    assert imported.val == [Example("flights please", "book_flight"), Example("tell me a joke", OUT_OF_SCOPE)]
    assert imported.test[-1] == Example("what is love", OUT_OF_SCOPE)
    write_dataset(imported, tmp_path / "out")
    dataset = load_dataset(tmp_path / "out")
    assert dataset.labels == ["book_flight", "weather"], "out-of-scope rows are never a class"
    assert [e.intent for e in dataset.test] == ["weather", OUT_OF_SCOPE]


def test_clinc_reports_a_bad_item_by_split_and_position(tmp_path: Path) -> None:
    layout = clinc_layout()
    layout["train"].append(["", "weather"])
    layout["test"].append(["half a pair"])
    source = write(tmp_path / "data_full.json", json.dumps(layout))
    assert problems_of(source, "clinc") == [
        f"{source}: train item 4: empty or missing text",
        f"{source}: test item 2: empty or missing text",
    ]


def test_import_command_writes_train_and_test_files_the_trainer_reads(tmp_path: Path) -> None:
    train = write(
        tmp_path / "train.csv", "text,label\nhello,greet\nhi,greet\nhey,greet\nbye,leave\nciao,leave\n"
    )
    test = write(tmp_path / "test.csv", "text,label\nhowdy,greet\nsee you,leave\n")
    out = tmp_path / "dataset"
    result = CliRunner().invoke(
        main, ["data", "import", str(train), "--format", "csv", "--test", str(test), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "5 training examples of 2 intents" in result.output
    assert read_examples(out / "test.csv") == [Example("howdy", "greet"), Example("see you", "leave")]
    assert load_dataset(out).labels == ["greet", "leave"]


def test_import_command_lists_bad_rows_and_writes_nothing(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "text,label\nhello,greet\nbye,leave\n")
    test = write(tmp_path / "test.csv", "text,label\nhowdy,\n")
    out = tmp_path / "dataset"
    result = CliRunner().invoke(
        main, ["data", "import", str(train), "--format", "csv", "--test", str(test), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert f"{test}:2: empty or missing label" in result.output
    assert "1 bad row(s); nothing was written" in result.output
    assert not out.exists()


def test_import_refuses_to_replace_existing_split_files_unless_asked(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", "text,label\nhello,greet\nbye,leave\n")
    out = tmp_path / "dataset"
    write_dataset(import_dataset(source, "csv"), out)
    (out / "train.csv").write_text("text,intent\nkept,greet\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="already holds train.csv"):
        write_dataset(import_dataset(source, "csv"), out)
    assert read_examples(out / "train.csv") == [Example("kept", "greet")]
    write_dataset(import_dataset(source, "csv"), out, overwrite=True)
    assert read_examples(out / "train.csv") == [Example("hello", "greet"), Example("bye", "leave")]
    assert not list(out.glob(".import-*")), "the staging folder is removed"


def test_a_single_intent_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", "text,label\nhello,greet\nhi,greet\n")
    with pytest.raises(DatasetError, match="at least two are needed"):
        write_dataset(import_dataset(source, "csv"), tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()
