"""``bot data``: bring intent data from other formats into the project's dataset format."""

from __future__ import annotations

from pathlib import Path

import click

FORMAT_CHOICES = ("csv", "jsonl", "rasa", "clinc")


@click.group(help="Intent datasets in the project's format (train.csv, val.csv, test.csv).")
def data() -> None:
    pass


@data.command(
    "import",
    help=(
        "Convert SRC into a dataset directory that `bot train --data DIR` and "
        "`bot evaluate --data DIR` read. Bad rows are listed by line and nothing is written."
    ),
)
@click.argument("source", metavar="SRC", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_CHOICES),
    required=True,
    help="csv (text,label), jsonl, rasa (NLU YAML or JSON) or clinc (CLINC150 data_full.json).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Dataset directory to write.",
)
@click.option(
    "--test",
    "test_source",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="A separate test file in the same format (becomes test.csv).",
)
@click.option("--overwrite", is_flag=True, help="Replace split files already in the directory.")
@click.option(
    "--encoding",
    default=None,
    callback=lambda _ctx, _param, value: _known_encoding(value),
    help="Text encoding of SRC and --test, e.g. cp1252 (default: UTF-8, or UTF-16/32 with a BOM).",
)
def import_command(
    source: Path, fmt: str, out_dir: Path, test_source: Path | None, overwrite: bool, encoding: str | None
) -> None:
    from bot.intents.dataset import DatasetError
    from bot.intents.importers import ImportFailed, import_dataset, write_dataset

    try:
        imported = import_dataset(source, fmt, test_source, encoding)
        written = write_dataset(imported, out_dir, overwrite=overwrite)
    except ImportFailed as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(error.problems)} bad row(s); nothing was written") from error
    except DatasetError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"wrote {', '.join(path.name for path in written)} to {out_dir}: {len(imported.train)} training "
        f"examples of {len(imported.intents)} intents, {len(imported.val)} validation, "
        f"{len(imported.test)} test ({imported.count_out_of_scope()} out of scope in all)",
        err=True,
    )


def _known_encoding(name: str | None) -> str | None:
    from bot.intents.dataset import DatasetError
    from bot.intents.text_encoding import check_encoding

    try:
        return None if name is None else check_encoding(name)
    except DatasetError as error:
        raise click.BadParameter(str(error)) from error
