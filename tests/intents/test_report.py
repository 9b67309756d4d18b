"""`bot evaluate --report`: the HTML page with its plots, metrics.json, calibration figures, escaping."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.intents.dataset import OUT_OF_SCOPE, Example, read_examples, write_examples
from bot.intents.evaluate import ScoredExample, calibration_metrics, confused_pairs, metrics
from bot.intents.model import Prediction
from bot.intents.report import render_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE_TEXT = '<script>alert("x")</script> where is my parcel'
HOSTILE_INTENT = "<img src=x onerror=alert(1)>"
INTENTS = ("cancel_order", "reset_password", "track_order")


def scored(text: str, intent: str, predicted: str, confidence: float) -> ScoredExample:
    prediction = Prediction(predicted, confidence, [(predicted, confidence)])
    return ScoredExample(Example(text, intent), prediction)


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"src='data:image/png;base64,([^']+)'", page)]


def test_expected_calibration_error_weighs_each_bin_by_its_share() -> None:
    # Ten messages at 0.95 confidence, half right (gap 0.45); ten at 0.55, all right (gap 0.45).
    examples = [scored("m", "a", "a" if i < 5 else "b", 0.95) for i in range(10)]
    examples += [scored("m", "a", "a", 0.55) for _ in range(10)]
    result = calibration_metrics(examples)
    assert result["ece"] == pytest.approx(0.45)
    assert [(row["count"], row["accuracy"]) for row in result["bins"]] == [(10, 1.0), (10, 0.5)]


def test_confused_pairs_rank_mistakes_and_keep_example_utterances() -> None:
    examples = [scored(f"refund {i}", "refund", "cancel", 0.6) for i in range(4)]
    examples += [scored("where", "track", "cancel", 0.5), scored("ok", "track", "track", 0.9)]
    pairs = confused_pairs(examples, examples=2)
    assert pairs[0] == {
        "intent": "refund",
        "predicted": "cancel",
        "count": 4,
        "examples": ["refund 0", "refund 1"],
    }
    assert pairs[1]["intent"] == "track" and pairs[1]["count"] == 1 and len(pairs) == 2


def test_report_without_out_of_scope_examples_has_two_plots_and_no_roc() -> None:
    examples = [scored("hello", "greet", "greet", 0.9), scored("bye", "leave", "greet", 0.6)]
    page = render_report(metrics(examples, ["greet", "leave"], 0.3), examples, "two intents")
    assert len(embedded_pngs(page)) == 2
    assert "AUROC" not in page
    assert "<td>leave</td><td>greet</td>" in page, "the confused pair is listed"


@pytest.fixture
def hostile_dataset(tmp_path: Path) -> Path:
    """A slice of the shipped test split, an utterance and an intent name carrying markup, and
    out-of-scope messages."""
    data = tmp_path / "data"
    shipped = read_examples(PROJECT_ROOT / "data" / "test.csv")
    test = [example for example in shipped if example.intent in INTENTS]
    test += [Example(HOSTILE_TEXT, "reset_password"), Example("are your shoes vegan?", HOSTILE_INTENT)]
    test += [Example(text, OUT_OF_SCOPE) for text in ("who won the world cup", "write a poem about rain")]
    write_examples(data / "train.csv", [e for e in read_examples(PROJECT_ROOT / "data" / "train.csv")][:40])
    write_examples(data / "test.csv", test)
    return data


def test_evaluate_writes_a_self_contained_report_and_the_metrics_it_prints(
    hostile_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main, ["evaluate", "--data", str(hostile_dataset), "--json", "--report", str(out)]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == printed
    assert printed["adapter"].startswith("default/") and 0.5 < printed["accuracy"] <= 1.0
    assert printed["out_of_scope"]["examples"] == 2 and "auroc" in printed["out_of_scope"]
    assert 0.0 <= printed["calibration"]["ece"] <= 1.0

    page = (out / "report.html").read_text(encoding="utf-8")
    pngs = embedded_pngs(page)
    assert len(pngs) == 3, "confidence histogram, reliability curve, ROC curve"
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 2000 for png in pngs)
    assert "src='http" not in page and "<link" not in page, "nothing is fetched from elsewhere"
    for intent in (*INTENTS, "&lt;img src=x onerror=alert(1)&gt;"):
        assert f"<td>{intent}</td>" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; where is my parcel" in page
    assert "<script" not in page and "<img src=x" not in page
    assert "in-scope accuracy at the threshold" in page and "out-of-scope AUROC" in page
