"""A newcomer's mistakes get one line on standard error and a consistent exit code: 2 when what
was typed or configured is wrong, 1 when the work failed; ``--debug`` adds the traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import PROJECT_ROOT

ACCEPTED = "use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/database"
NO_FAMILY = PROJECT_ROOT / "adapters" / "nope"
# Every command that opens the database checks BOT_DATABASE_URL first.
DATABASE_COMMANDS = [
    ["serve"],
    ["db", "upgrade"],
    ["conversations", "export"],
    ["evaluate"],
    ["retrain"],
    ["adapters", "list"],
    ["users", "list"],
    ["labels", "set", "1", "greet", "--by", "alice"],
    ["content", "export", "unused"],
    ["conversations", "erase", "1", "--yes"],
    ["conversations", "erasures"],
    ["rounds", "list"],
]


def bot(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, prog_name="bot")


def only_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_an_unsupported_database_is_one_line_and_exit_code_2_in_every_command(command: list[str]) -> None:
    result = bot(*command, BOT_DATABASE_URL="mysql://x")
    assert result.exit_code == 2
    assert only_line(result) == f"Error: BOT_DATABASE_URL: mysql:// databases are not supported; {ACCEPTED}"


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line_and_exit_code_1_in_every_command(command: list[str]) -> None:
    result = bot(*command, BOT_DATABASE_URL="postgresql://bot:s3cret@127.0.0.1:1/bot")
    assert result.exit_code == 1
    line = only_line(result)
    assert line.startswith("Error: BOT_DATABASE_URL: cannot connect to the database bot at 127.0.0.1:1")
    assert "s3cret" not in line


def test_serve_on_a_busy_port_is_one_line_and_exit_code_1_before_loading_anything(sqlite_url: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = bot("serve", "--port", str(port), BOT_DATABASE_URL=sqlite_url)
    assert result.exit_code == 1
    assert only_line(result) == (
        f"Error: cannot listen on 127.0.0.1:{port}: another program holds the port; stop it or choose "
        f"another port (bot serve --port {port + 1}, make serve PORT={port + 1})"
    )


def test_a_string_that_is_not_a_url_is_one_line_and_exit_code_2() -> None:
    result = bot("db", "upgrade", BOT_DATABASE_URL="notaurl")
    assert result.exit_code == 2
    assert only_line(result) == f"Error: BOT_DATABASE_URL: 'notaurl' is not a database URL; {ACCEPTED}"


def test_an_invalid_setting_names_the_variable_in_one_line_with_exit_code_2() -> None:
    result = bot("db", "upgrade", BOT_CONFIDENCE_THRESHOLD="abc")
    assert result.exit_code == 2
    assert only_line(result).startswith("Error: BOT_CONFIDENCE_THRESHOLD: Input should be a valid number")


@pytest.mark.parametrize("debug", [["--debug"], []], ids=["option", "environment"])
def test_debug_adds_the_traceback_above_the_same_line_and_exit_code(debug: list[str]) -> None:
    env = {"BOT_DATABASE_URL": "mysql://x"} | ({} if debug else {"BOT_DEBUG": "1"})
    result = CliRunner().invoke(main, [*debug, "db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "bot.db.check.DatabaseUrlInvalid" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: BOT_DATABASE_URL: mysql://")


def test_version_prints_the_installed_version() -> None:
    result = bot("--version")
    assert result.exit_code == 0 and result.stdout == f"bot {metadata.version('bot')}\n"


def test_evaluate_with_an_adapter_family_that_does_not_exist_is_a_usage_error() -> None:
    result = bot("evaluate", "--adapter", "nope/v9", BOT_ADAPTER_DIR=str(PROJECT_ROOT / "adapters"))
    assert result.exit_code == 2
    assert only_line(result) == (
        f"Error: Invalid value for '--adapter': no adapter versions under {NO_FAMILY}; run `bot train`; "
        "see `bot evaluate --help`"
    )


def test_a_missing_data_directory_setting_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = bot("train", BOT_DATA_DIR=str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert (
        only_line(result)
        == f"Error: BOT_DATA_DIR: {tmp_path / 'nowhere'} is not a directory; pass --data DIR or set it"
    )


# The command runs in a fresh interpreter that reports, on its way out, whether torch was imported.
REPORT_TORCH = """
import sys
from bot.cli import main
try:
    main(sys.argv[1:], prog_name="bot")
finally:
    print("torch imported" if "torch" in sys.modules else "torch not imported", file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "env", "error"),
    [
        (
            ["train", "--data", "/nonexistent"],
            {},
            "Error: Invalid value for '--data': Directory '/nonexistent' does not exist; "
            "see `bot train --help`",
        ),
        (
            ["evaluate", "--adapter", "nope/v9"],
            {},
            f"Error: Invalid value for '--adapter': no adapter versions under {NO_FAMILY}; "
            "run `bot train`; see `bot evaluate --help`",
        ),
        (
            ["serve"],
            {"BOT_DATABASE_URL": "mysql://x"},
            f"Error: BOT_DATABASE_URL: mysql:// databases are not supported; {ACCEPTED}",
        ),
        (
            ["serve", "--port", "http"],
            {},
            "Error: Invalid value for '--port': 'http' is not a valid integer range; see `bot serve --help`",
        ),
    ],
    ids=["train --data", "evaluate --adapter", "serve mysql", "serve --port"],
)
def test_usage_errors_are_answered_before_torch_is_imported(
    args: list[str], env: dict[str, str], error: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", REPORT_TORCH, *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [error, "torch not imported"]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_data_import_refuses_latin_1_naming_the_encoding_to_use_and_writes_nothing(tmp_path: Path) -> None:
    source = write_bytes(tmp_path / "latin.csv", b"text,label\ncaf\xe9 au lait,order\nhello,greet\n")
    result = bot("data", "import", str(source), "--format", "csv", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert only_line(result) == (
        f"Error: {source}:2: not UTF-8 (byte 0xE9); save it as UTF-8, or pass --encoding cp1252 if it was "
        "written in that"
    )
    assert not (tmp_path / "out").exists()


def test_data_import_reads_a_named_encoding(tmp_path: Path) -> None:
    source = write_bytes(tmp_path / "latin.csv", b"text,label\ncaf\xe9 au lait,order\nhello,greet\n")
    out = tmp_path / "out"
    result = bot("data", "import", str(source), "--format", "csv", "--out", str(out), "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    assert "café au lait,order" in (out / "train.csv").read_text(encoding="utf-8")


def test_data_import_converts_utf_16_with_a_byte_order_mark(tmp_path: Path) -> None:
    source = write_bytes(
        tmp_path / "u16.csv", "text,label\ncafé au lait,order\nhello,greet\n".encode("utf-16")
    )
    out = tmp_path / "out"
    result = bot("data", "import", str(source), "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "train.csv").read_text(encoding="utf-8") == "text,intent\ncafé au lait,order\nhello,greet\n"


def test_data_import_reports_an_extra_column_by_line_and_writes_nothing(tmp_path: Path) -> None:
    source = write_bytes(tmp_path / "extra.csv", b"text,label\nhello,greet\nyes, please,confirm\nbye,leave\n")
    result = bot("data", "import", str(source), "--format", "csv", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{source}:3: 3 fields where the header has 2; put text that contains a comma in double quotes",
        "Error: 1 bad row(s); nothing was written",
    ]
    assert not (tmp_path / "out").exists()


def test_data_import_reports_an_unclosed_quote_on_its_line_and_writes_nothing(tmp_path: Path) -> None:
    source = write_bytes(
        tmp_path / "quote.csv", b'text,label\nhello,greet\n"oops,greet\nbye,leave\nok,fine\n'
    )
    result = bot("data", "import", str(source), "--format", "csv", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{source}:3: a quote opened in this row is never closed (the file ends inside it); close it, and "
        'write a quote inside quoted text as two ("")',
        "Error: 1 bad row(s); nothing was written",
    ]
    assert not (tmp_path / "out").exists()
