"""The retrieval evaluation report: one self-contained HTML page + metrics.json.

Questions and article ids are HTML-escaped: the labelled set is user input and the page is
opened in a browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from bot.retrieval.metrics import RankedQuestion

REPORT_FILE = "report.html"
METRICS_FILE = "metrics.json"
PATHS = (("retriever", "Retriever (every article by similarity)"), ("citations", "What the bot cites"))

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


def write_report(out_dir: Path, result: dict[str, Any], cited: Sequence[RankedQuestion], title: str) -> Path:
    """Write ``report.html`` and ``metrics.json`` into ``out_dir``; return the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    page = out_dir / REPORT_FILE
    page.write_text(render_report(result, cited, title), encoding="utf-8")
    return page


def render_report(result: dict[str, Any], cited: Sequence[RankedQuestion], title: str) -> str:
    sections = [f"<h1>{escape(title)}</h1>", _summary(result)]
    for key, name in PATHS:
        sections += [
            f"<h2>{escape(name)}: confusions</h2>",
            _confusions(result[key]["confusions"]),
            f"<h2>{escape(name)}: per article</h2>",
            _per_article(result[key]["per_article"]),
        ]
    sections += ["<h2>Retrieval threshold</h2>", _threshold(result["threshold"])]
    sections += ["<h2>Questions the bot cites wrongly</h2>", _misses(cited)]
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='n'>{cell}</td>" if isinstance(cell, int | float) else f"<td>{escape(str(cell))}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _summary(result: dict[str, Any]) -> str:
    rows = [
        (
            name,
            result[key]["questions"],
            result[key]["recall_at_1"],
            result[key]["recall_at_3"],
            result[key]["mrr"],
        )
        for key, name in PATHS
    ]
    return _table(("path", "questions", "recall@1", "recall@3", "MRR"), rows)


def _confusions(confusions: list[dict[str, Any]]) -> str:
    if not confusions:
        return "<p>None.</p>"
    return _table(
        ("expected", "cited instead", "questions"),
        [(c["expected"], c["cited"], c["count"]) for c in confusions],
    )


def _per_article(per_article: dict[str, dict[str, Any]]) -> str:
    ordered = sorted(per_article.items(), key=lambda item: (item[1]["recall_at_1"], item[0]))
    rows = [(a, m["questions"], m["recall_at_1"], m["recall_at_3"], m["mrr"]) for a, m in ordered]
    return _table(("article", "questions", "recall@1", "recall@3", "MRR"), rows)


def _threshold(fit: dict[str, Any]) -> str:
    text = (
        f"<p>At the setting {fit['setting']}, the retriever's first article is right for "
        f"{fit['right_above_setting']:.1%} of the {fit['questions_above_setting']} questions "
        "scoring at or above it. "
        f"Lowest score with at least {fit['target']:.0%} right: {escape(str(fit['fitted']))}.</p>"
    )
    rows = [(row["threshold"], row["questions"], row["right"]) for row in fit["table"]]
    return text + _table(("threshold", "questions at or above", "share right"), rows)


def _misses(rows: Sequence[RankedQuestion]) -> str:
    missed = [row for row in rows if not row.hit_at(1)]
    if not missed:
        return "<p>None.</p>"
    return _table(
        ("question", "right article(s)", "cited"),
        [(r.question, "; ".join(r.articles), r.cited) for r in missed],
    )
