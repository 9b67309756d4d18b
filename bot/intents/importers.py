"""Convert common intent-data formats into the project's dataset directory (``text,intent`` CSVs).

Formats:

- ``csv``: a header with a text column (``text``, ``utterance``, ``sentence`` or ``query``) and a
  label column (``label``, ``intent`` or ``category``); other columns are ignored.
- ``jsonl``: one JSON object per line with the same keys.
- ``rasa``: Rasa NLU training data, YAML (``nlu: [{intent, examples}]``, entity annotations such
  as ``[Berlin](city)`` reduced to their text) or JSON (``rasa_nlu_data.common_examples``).
- ``clinc``: the CLINC150 ``data_full.json`` layout (``train``/``val``/``test`` and
  ``oos_train``/``oos_val``/``oos_test`` lists of ``[text, intent]``); its ``oos`` label becomes
  ``out_of_scope``, so those rows stay out-of-scope examples, never a class.

Every bad row (empty text, missing label, unreadable line, a CSV row with more or fewer fields
than its header, a quote that is never closed) is reported with its file and line (item index
for CLINC's single-line JSON); when there is any, nothing is written. Files are read as UTF-8,
or UTF-16/32 with a byte-order mark, or the encoding named (``bot/intents/text_encoding.py``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.intents.dataset import OUT_OF_SCOPE, DatasetError, Example, write_examples
from bot.intents.text_encoding import read_text

FORMATS = ("csv", "jsonl", "rasa", "clinc")
TEXT_KEYS = ("text", "utterance", "sentence", "query")
LABEL_KEYS = ("label", "intent", "category")
CLINC_OUT_OF_SCOPE = "oos"
SPLIT_FILES = ("train.csv", "val.csv", "test.csv")
# Rasa entity annotations: [text](entity), [text](entity:value), [text]{"entity": ...}.
_RASA_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


class ImportFailed(DatasetError):
    """The source has bad rows; ``problems`` lists each as ``file:line: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportedData:
    train: list[Example]
    test: list[Example] = field(default_factory=list)
    val: list[Example] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.train if e.intent != OUT_OF_SCOPE})

    def count_out_of_scope(self) -> int:
        return sum(e.intent == OUT_OF_SCOPE for e in self.train + self.val + self.test)


@dataclass
class _Rows:
    """Examples read from one source, and what was wrong with the rows that were not."""

    examples: list[Example] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, text: Any, label: Any) -> None:
        text = text.strip() if isinstance(text, str) else ""
        label = str(label).strip() if isinstance(label, str | int) else ""
        if not text:
            self.problems.append(f"{where}: empty or missing text")
        elif not label:
            self.problems.append(f"{where}: empty or missing label")
        else:
            self.examples.append(Example(text, label))


def import_dataset(
    source: Path, fmt: str, test_source: Path | None = None, encoding: str | None = None
) -> ImportedData:
    """Read ``source`` (and ``test_source``, same format) into examples; raise ``ImportFailed``
    listing every bad row. ``encoding`` None detects UTF-8, UTF-16 and UTF-32 (see module doc)."""
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "clinc":
        if test_source is not None:
            raise DatasetError("the clinc layout has its own test split; --test does not apply")
        return _read_clinc(source, encoding)
    train = read_rows(source, fmt, encoding)
    test = read_rows(test_source, fmt, encoding) if test_source is not None else _Rows()
    if train.problems or test.problems:
        raise ImportFailed(train.problems + test.problems)
    return ImportedData(train=train.examples, test=test.examples)


def read_rows(path: Path, fmt: str, encoding: str | None = None) -> _Rows:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "rasa": _read_rasa}
    return readers[fmt](path, read_text(path, encoding))


def write_dataset(data: ImportedData, out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write the split files into ``out_dir`` all at once: staged in a sibling folder first, so an
    error leaves ``out_dir`` as it was."""
    if len(data.intents) < 2:
        raise DatasetError(f"the training data has {len(data.intents)} intent(s); at least two are needed")
    existing = [out_dir / name for name in (*SPLIT_FILES, "out_of_scope.csv") if (out_dir / name).exists()]
    if existing and not overwrite:
        names = ", ".join(path.name for path in existing)
        raise DatasetError(f"{out_dir} already holds {names}; choose another folder or overwrite")
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {"train.csv": data.train, "val.csv": data.val, "test.csv": data.test}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".import-") as staging:
        for name, examples in splits.items():
            if examples:
                write_examples(Path(staging) / name, examples)
        for path in existing:
            path.unlink()
        written = []
        for name in splits:
            if (Path(staging) / name).exists():
                shutil.move(Path(staging) / name, out_dir / name)
                written.append(out_dir / name)
    return written


def _read_csv(path: Path, content: str) -> _Rows:
    rows = _Rows()
    # strict: a quote that is never closed, or text after a closing quote, is an error instead of
    # swallowing the lines after it into one text.
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    columns = _csv_header(path, reader)
    text_key, label_key = _pick_key(columns, TEXT_KEYS), _pick_key(columns, LABEL_KEYS)
    if text_key is None or label_key is None:
        raise DatasetError(
            f"{path}:1: the header needs a text column ({', '.join(TEXT_KEYS)}) and a label column "
            f"({', '.join(LABEL_KEYS)}); found {', '.join(columns) or 'nothing'}"
        )
    text_index, label_index = columns.index(text_key), columns.index(label_key)
    start = reader.line_num + 1
    while True:
        # A row may span several physical lines (quoted newlines): report where it starts.
        where = f"{path}:{start}"
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            rows.problems.append(_quoting_problem(where, reader.line_num, error))
            break  # past broken quoting, rows and lines no longer line up
        if len(fields) != len(columns) and fields:
            rows.problems.append(
                f"{where}: {len(fields)} fields where the header has {len(columns)}; "
                "put text that contains a comma in double quotes"
            )
        elif fields:
            rows.add(where, fields[text_index], fields[label_index])
        start = reader.line_num + 1
    return rows


def _csv_header(path: Path, reader: Any) -> list[str]:
    try:
        return list(next(reader, []))
    except csv.Error as error:
        raise DatasetError(_quoting_problem(f"{path}:1", reader.line_num, error)) from error


def _quoting_problem(where: str, line: int, error: csv.Error) -> str:
    if "unexpected end of data" in str(error):
        return (
            f"{where}: a quote opened in this row is never closed (the file ends inside it); "
            'close it, and write a quote inside quoted text as two ("")'
        )
    return (
        f"{where}: broken quoting in this row (line {line}: {error}); "
        'write a quote inside quoted text as two ("")'
    )


def _read_jsonl(path: Path, content: str) -> _Rows:
    rows = _Rows()
    for number, line in enumerate(io.StringIO(content), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            rows.problems.append(f"{where}: not valid JSON ({error.msg})")
            continue
        if not isinstance(item, dict):
            rows.problems.append(f"{where}: expected a JSON object")
            continue
        text_key, label_key = _pick_key(item, TEXT_KEYS), _pick_key(item, LABEL_KEYS)
        rows.add(where, item.get(text_key or ""), item.get(label_key or ""))
    return rows


def _pick_key(available: Any, candidates: tuple[str, ...]) -> str | None:
    return next((key for key in candidates if key in available), None)


def _read_rasa(path: Path, content: str) -> _Rows:
    try:
        document = yaml.compose(content)
    except yaml.YAMLError as error:
        raise DatasetError(f"{path}: not valid YAML or JSON ({error})") from error
    rows = _Rows()
    if not isinstance(document, yaml.MappingNode):
        raise DatasetError(f"{path}: expected Rasa NLU data (a mapping with `nlu` or `rasa_nlu_data`)")
    top = _mapping(document)
    if "nlu" in top:
        _read_rasa_yaml(path, top["nlu"], rows)
    elif "rasa_nlu_data" in top:
        _read_rasa_json(path, top["rasa_nlu_data"], rows)
    else:
        raise DatasetError(f"{path}: expected Rasa NLU data (a mapping with `nlu` or `rasa_nlu_data`)")
    return rows


def _read_rasa_yaml(path: Path, nlu: yaml.Node, rows: _Rows) -> None:
    for entry in _sequence(nlu):
        fields = _mapping(entry)
        if "intent" not in fields:
            continue  # synonym, regex and lookup entries carry no utterances
        intent = _scalar(fields["intent"])
        where = f"{path}:{entry.start_mark.line + 1}"
        examples = fields.get("examples")
        if examples is None:
            rows.problems.append(f"{where}: intent {intent or '(empty)'} has no examples")
            continue
        for line, text in _rasa_examples(examples):
            rows.add(f"{path}:{line}", _RASA_ENTITY.sub(r"\1", text), intent)


def _rasa_examples(node: yaml.Node) -> Iterator[tuple[int, str]]:
    """(line, text) per example: a block of ``- text`` lines, or a list of ``{text: ...}``."""
    if isinstance(node, yaml.ScalarNode):
        # A literal block starts on the line after its ``|`` indicator.
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        for offset, line in enumerate(str(node.value).splitlines()):
            if line.strip():
                yield first + offset, line.strip().removeprefix("-").strip()
        return
    for item in _sequence(node):
        text = _mapping(item).get("text") if isinstance(item, yaml.MappingNode) else item
        yield item.start_mark.line + 1, _scalar(text) if text is not None else ""


def _read_rasa_json(path: Path, data: yaml.Node, rows: _Rows) -> None:
    examples = _mapping(data).get("common_examples")
    if examples is None:
        raise DatasetError(f"{path}: rasa_nlu_data has no common_examples")
    for item in _sequence(examples):
        fields = _mapping(item)
        text, intent = fields.get("text"), fields.get("intent")
        rows.add(
            f"{path}:{item.start_mark.line + 1}",
            _scalar(text) if text is not None else "",
            _scalar(intent) if intent is not None else "",
        )


def _mapping(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise DatasetError(f"line {node.start_mark.line + 1}: expected a mapping")
    return {str(key.value): value for key, value in node.value}


def _sequence(node: yaml.Node) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise DatasetError(f"line {node.start_mark.line + 1}: expected a list")
    return list(node.value)


def _scalar(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _read_clinc(path: Path, encoding: str | None = None) -> ImportedData:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        data = json.loads(read_text(path, encoding))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from error
    if not isinstance(data, dict) or "train" not in data:
        raise DatasetError(f"{path}: expected the CLINC150 layout (keys train, val, test, oos_*)")
    problems: list[str] = []
    splits: dict[str, list[Example]] = {}
    for split in ("train", "val", "test"):
        rows = _Rows()
        for key in (split, f"oos_{split}"):
            for index, item in enumerate(data.get(key) or []):
                pair = item if isinstance(item, list) and len(item) == 2 else [None, None]
                label = CLINC_OUT_OF_SCOPE if key.startswith("oos_") else pair[1]
                rows.add(f"{path}: {key} item {index + 1}", pair[0], label)
        problems += rows.problems
        splits[split] = [
            Example(e.text, OUT_OF_SCOPE) if e.intent == CLINC_OUT_OF_SCOPE else e for e in rows.examples
        ]
    if problems:
        raise ImportFailed(problems)
    return ImportedData(train=splits["train"], val=splits["val"], test=splits["test"])
