"""The evaluation report: one self-contained HTML page (plots inlined as base64 PNGs) + metrics.json.

Every piece of dataset text (utterances, intent names) is HTML-escaped: a dataset is user
input and the page is opened in a browser.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from bot.intents.evaluate import ScoredExample

REPORT_FILE = "report.html"
METRICS_FILE = "metrics.json"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots figure { margin: 0; }
figcaption { font-size: 0.9rem; color: #555; }
"""


def write_report(out_dir: Path, result: dict[str, Any], scored: list[ScoredExample], title: str) -> Path:
    """Write ``report.html`` and ``metrics.json`` into ``out_dir``; return the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    page = out_dir / REPORT_FILE
    page.write_text(render_report(result, scored, title), encoding="utf-8")
    return page


def render_report(result: dict[str, Any], scored: list[ScoredExample], title: str) -> str:
    sections = [
        f"<h1>{escape(title)}</h1>",
        _summary_table(result),
        "<h2>Plots</h2>",
        _plots(result, scored),
        "<h2>Most-confused intent pairs</h2>",
        _confusions_table(result["confused_pairs"]),
        "<h2>Per intent</h2>",
        _per_intent_table(result["per_intent"]),
    ]
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _summary_table(result: dict[str, Any]) -> str:
    rows = [
        ("in-scope examples", str(result["examples"])),
        ("accuracy", _percent(result["accuracy"])),
        ("macro-F1", _percent(result["macro_f1"])),
        ("expected calibration error", f"{result['calibration']['ece']:.4f}"),
    ]
    oos = result.get("out_of_scope")
    if oos is not None:
        rows += [
            ("out-of-scope examples", str(oos["examples"])),
            ("out-of-scope AUROC", f"{oos['auroc']:.4f}"),
            ("saved out-of-scope threshold", f"{oos['threshold']:.4f}"),
            ("out-of-scope recall at the threshold", _percent(oos["recall"])),
            ("in-scope accuracy at the threshold", _percent(oos["in_scope_accuracy"])),
        ]
    body = "".join(f"<tr><th>{escape(name)}</th><td class='n'>{value}</td></tr>" for name, value in rows)
    return f"<table>{body}</table>"


def _per_intent_table(per_intent: dict[str, dict[str, float]]) -> str:
    header = "<tr><th>intent</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
    rows = [
        f"<tr><td>{escape(intent)}</td><td class='n'>{row['precision']:.3f}</td>"
        f"<td class='n'>{row['recall']:.3f}</td><td class='n'>{row['f1']:.3f}</td>"
        f"<td class='n'>{row['support']}</td></tr>"
        for intent, row in sorted(per_intent.items(), key=lambda item: (item[1]["f1"], item[0]))
    ]
    return f"<table>{header}{''.join(rows)}</table>"


def _confusions_table(pairs: list[dict[str, Any]]) -> str:
    if not pairs:
        return "<p>No in-scope mistakes.</p>"
    header = "<tr><th>intent</th><th>predicted as</th><th>count</th><th>examples</th></tr>"
    rows = [
        f"<tr><td>{escape(pair['intent'])}</td><td>{escape(pair['predicted'])}</td>"
        f"<td class='n'>{pair['count']}</td><td><ul>"
        + "".join(f"<li>{escape(text)}</li>" for text in pair["examples"])
        + "</ul></td></tr>"
        for pair in pairs
    ]
    return f"<table>{header}{''.join(rows)}</table>"


def _plots(result: dict[str, Any], scored: list[ScoredExample]) -> str:
    figures = [
        (_confidence_histogram(scored, result), "Confidence of the top intent"),
        (
            _reliability_curve(result["calibration"]),
            f"Reliability curve, expected calibration error {result['calibration']['ece']:.4f}",
        ),
    ]
    if "out_of_scope" in result:
        oos = result["out_of_scope"]
        figures.append((_roc_curve(scored, oos["threshold"]), f"Out-of-scope ROC, AUROC {oos['auroc']:.4f}"))
    return (
        "<div class='plots'>"
        + "".join(
            f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,{png}'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>"
            for png, caption in figures
        )
        + "</div>"
    )


def _confidence_histogram(scored: list[ScoredExample], result: dict[str, Any]) -> str:
    figure, axes = _figure()
    groups = {
        "in scope, right": [s.prediction.confidence for s in scored if s.in_scope and s.correct],
        "in scope, wrong": [s.prediction.confidence for s in scored if s.in_scope and not s.correct],
        "out of scope": [s.prediction.confidence for s in scored if not s.in_scope],
    }
    bins = np.linspace(0.0, 1.0, 26)
    for name, values in groups.items():
        if values:
            axes.hist(values, bins=bins, alpha=0.6, label=f"{name} ({len(values)})")
    if "out_of_scope" in result:
        axes.axvline(result["out_of_scope"]["threshold"], color="black", linestyle="--", label="threshold")
    axes.set_xlabel("confidence")
    axes.set_ylabel("messages")
    axes.set_yscale("log")
    axes.legend(fontsize=8)
    return _png(figure)


def _reliability_curve(calibration: dict[str, Any]) -> str:
    figure, axes = _figure()
    bins = calibration["bins"]
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    axes.bar(centres, [row["accuracy"] for row in bins], width=0.09, alpha=0.6, label="accuracy in bin")
    axes.plot([row["confidence"] for row in bins], [row["accuracy"] for row in bins], "o-", label="measured")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.legend(fontsize=8, loc="upper left")
    return _png(figure)


def _roc_curve(scored: list[ScoredExample], threshold: float) -> str:
    is_oos = [0 if s.in_scope else 1 for s in scored]
    # Low confidence is the out-of-scope signal.
    false_positive, true_positive, _ = roc_curve(is_oos, [-s.prediction.confidence for s in scored])
    in_scope = [s for s in scored if s.in_scope]
    out_of_scope = [s for s in scored if not s.in_scope]
    figure, axes = _figure()
    axes.plot(false_positive, true_positive, label="out-of-scope detection")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.plot(
        [sum(s.prediction.confidence < threshold for s in in_scope) / len(in_scope)],
        [sum(s.prediction.confidence < threshold for s in out_of_scope) / len(out_of_scope)],
        "ko",
        label="saved threshold",
    )
    axes.set_xlabel("in-scope messages rejected")
    axes.set_ylabel("out-of-scope messages caught")
    axes.legend(fontsize=8, loc="lower right")
    return _png(figure)


def _figure() -> tuple[Figure, Any]:
    # A bare Figure (no pyplot): no global state, safe outside the main thread.
    figure = Figure(figsize=(5, 3.6), dpi=100, layout="tight")
    return figure, figure.add_subplot()


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"
