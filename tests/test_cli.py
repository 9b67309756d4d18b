"""The ``bot`` command: documented options, clear errors, and the shipped adapter's figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.db.session import create_db_engine


def commands(group: click.Group, path: str = "bot") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


def bot(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env={f"BOT_{k.upper()}": v for k, v in env.items()})


def test_every_command_and_option_has_help_text() -> None:
    undocumented = [
        f"{path} {option.opts[0]}" if option else path
        for path, command in commands(main)
        for option in [None, *(p for p in command.params if isinstance(p, click.Option))]
        if not (option.help if option else command.help)
    ]
    assert undocumented == []


def test_help_lists_the_main_commands() -> None:
    result = bot("--help")
    assert result.exit_code == 0
    for name in ("serve", "train", "evaluate", "db", "conversations"):
        assert f"  {name} " in result.output


@pytest.mark.slow
def test_evaluate_json_reports_the_shipped_adapter_above_ninety_percent() -> None:
    result = bot(
        "evaluate",
        "--json",
        data_dir=str(PROJECT_ROOT / "data"),
        adapter_dir=str(PROJECT_ROOT / "adapters"),
        device="cpu",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"] == "test" and report["examples"] >= 320
    assert report["accuracy"] >= 0.90 and report["macro_f1"] >= 0.90
    assert len(report["per_intent"]) >= 30
    assert set(next(iter(report["per_intent"].values()))) >= {"precision", "recall", "f1"}
    assert report["out_of_scope"]["auroc"] > 0.9


def test_evaluate_with_an_unknown_adapter_is_a_usage_error() -> None:
    result = bot("evaluate", "--adapter", "default/v999", adapter_dir=str(PROJECT_ROOT / "adapters"))
    assert result.exit_code == 2
    assert "Error: Invalid value for '--adapter': adapter default/v999 not found (known versions: v1" in (
        result.stderr
    )
    assert isinstance(result.exception, SystemExit)


def test_train_refuses_bad_rows_by_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("text,intent\nhello,greeting\n,greeting\nbye,\n", encoding="utf-8")
    adapters = tmp_path / "adapters"
    result = bot("train", "--data", str(data), "--epochs", "1", adapter_dir=str(adapters))
    assert result.exit_code == 1
    assert f"{data / 'train.csv'}:3: empty text" in result.stderr
    assert f"{data / 'train.csv'}:4: empty intent" in result.stderr
    assert not adapters.exists()


def small_dataset(directory: Path) -> Path:
    rows = [f"where is parcel number {i},track_order" for i in range(6)]
    rows += [f"I forgot password number {i},reset_password" for i in range(6)]
    directory.mkdir()
    (directory / "train.csv").write_text("text,intent\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return directory


def trained_recipe(data: Path, adapters: Path, *options: str) -> dict[str, object]:
    result = bot(
        "train", "--data", str(data), "--epochs", "1", "--device", "cpu", *options, adapter_dir=str(adapters)
    )
    assert result.exit_code == 0, result.output
    training = json.loads(next(adapters.glob("*/v*/training.json")).read_text(encoding="utf-8"))
    config: dict[str, object] = training["config"]
    return config


@pytest.mark.slow
def test_train_applies_the_small_data_recipe_unless_told_otherwise(tmp_path: Path) -> None:
    data = small_dataset(tmp_path / "data")
    default = trained_recipe(data, tmp_path / "default")
    assert default["cosine_margin"] == 0.2 and default["intent_names_as_examples"] is True
    chosen = trained_recipe(data, tmp_path / "chosen", "--cosine-margin", "0", "--no-intent-names")
    assert chosen["cosine_margin"] == 0.0 and chosen["intent_names_as_examples"] is False


def test_train_refuses_a_margin_outside_zero_to_one(tmp_path: Path) -> None:
    result = bot("train", "--data", str(tmp_path), "--cosine-margin", "2")
    assert result.exit_code == 2 and "--cosine-margin" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    result = bot("db", "upgrade", database_url=url)
    assert result.exit_code == 0, result.output
    engine = create_db_engine(url)
    try:
        assert {"conversations", "messages", "predictions", "feedback"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
