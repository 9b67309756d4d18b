"""Precision and recall of the personal-data redactor on the project's labelled set.

    python benchmarks/redaction_quality.py [--set data/privacy/redaction_labelled.jsonl] [--show]

Prints the figures per kind, the speed, and the machine and library versions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.privacy.redact import redact  # noqa: E402
from bot.privacy.redaction_quality import load_labelled, score  # noqa: E402

DEFAULT_SET = Path(__file__).resolve().parent.parent / "data" / "privacy" / "redaction_labelled.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="Labelled JSON-lines file.")
    parser.add_argument("--show", action="store_true", help="List every miss and every wrong finding.")
    args = parser.parse_args()
    rows = load_labelled(args.set)
    result = score(rows)
    started = time.perf_counter()
    for row in rows:
        redact(row.text)
    per_text_ms = (time.perf_counter() - started) * 1000 / len(rows)

    versions = package_versions(("phonenumbers", "python-stdnum"))
    print(f"machine: {cpu_model()}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    pieces = sum(result.labelled.values())
    clean = sum(not row.spans for row in rows)
    print(f"{len(rows)} strings, {pieces} pieces of personal data, {clean} strings without any")
    for kind in sorted(result.labelled):
        found, total = result.found[kind], result.labelled[kind]
        print(f"  {kind:6s} recall {found / total:.3f} ({found}/{total})")
    wrong = len(result.wrong)
    print(f"recall {result.recall:.3f}, precision {result.precision:.3f} ({wrong} wrong findings)")
    print(f"redaction takes {per_text_ms:.2f} ms a string")
    if args.show:
        for line in result.missed:
            print("missed", line)
        for line in result.wrong:
            print("wrong ", line)


if __name__ == "__main__":
    main()
