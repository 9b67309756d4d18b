"""Score the redactor on a labelled set: precision and recall of the personal data it replaces.

A labelled piece counts as found when one finding covers all of it; a finding counts as right
when it overlaps a labelled piece (of any kind: a card read as a phone number is still hidden).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.privacy.redact import Finding, find_personal_data


@dataclass(frozen=True)
class Labelled:
    text: str
    spans: list[tuple[int, int, str]]


@dataclass
class Score:
    found: Counter[str] = field(default_factory=Counter)
    labelled: Counter[str] = field(default_factory=Counter)
    right: int = 0
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(1, sum(self.labelled.values()))

    @property
    def precision(self) -> float:
        return self.right / max(1, self.right + len(self.wrong))


def load_labelled(path: Path) -> list[Labelled]:
    """JSON lines ``{"text": ..., "pii": [{"kind": ..., "value": ...}]}``; values are located in order."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        spans, cursor = [], 0
        for piece in record["pii"]:
            start = record["text"].index(piece["value"], cursor)
            spans.append((start, start + len(piece["value"]), piece["kind"]))
            cursor = start + len(piece["value"])
        rows.append(Labelled(record["text"], spans))
    return rows


def score(rows: list[Labelled]) -> Score:
    result = Score()
    for row in rows:
        findings = find_personal_data(row.text)
        for start, end, kind in row.spans:
            result.labelled[kind] += 1
            if any(f.start <= start and end <= f.end for f in findings):
                result.found[kind] += 1
            else:
                result.missed.append(f"{kind}: {row.text[start:end]!r} in {row.text!r}")
        for finding in findings:
            if any(_overlaps(finding, start, end) for start, end, _ in row.spans):
                result.right += 1
            else:
                text = row.text[finding.start : finding.end]
                result.wrong.append(f"{finding.kind}: {text!r} in {row.text!r}")
    return result


def _overlaps(finding: Finding, start: int, end: int) -> bool:
    return finding.start < end and start < finding.end
