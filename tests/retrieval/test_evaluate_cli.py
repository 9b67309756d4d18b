"""``bot evaluate --retrieval``: both paths' figures, printed, as JSON and in the HTML report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import PROJECT_ROOT
from bot.retrieval.evaluation import threshold_fit
from bot.retrieval.metrics import RankedQuestion, ranking_metrics
from bot.retrieval.report import render_report

HOSTILE = '<script>alert("x")</script> where is my parcel'


def dataset(tmp_path: Path, rows: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data" / "knowledge", data / "knowledge")
    for name in ("responses.yml", "kb_index.npz", "train.csv", "test.csv"):
        shutil.copy(PROJECT_ROOT / "data" / name, data / name)
    (data / "retrieval").mkdir()
    (data / "retrieval" / "questions.csv").write_text("question,articles,split\n" + rows, encoding="utf-8")
    return data


def run(data: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "BOT_STATE_DIR": str(tmp_path / "state"),
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "BOT_ADAPTER_DIR": str(PROJECT_ROOT / "adapters"),
    }
    result = CliRunner().invoke(main, ["evaluate", "--retrieval", "--data", str(data), *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_report_and_json_carry_both_paths_and_the_threshold_fit(tmp_path: Path) -> None:
    rows = (
        f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",tracking-a-parcel,test\n'
        "how do i send my jacket back,how-to-return;return-policy,test\n"
        "is the packaging recyclable,sustainable-packaging,test\n"
        "unused tuning question,gift-cards,tune\n"
    )
    data = dataset(tmp_path, rows)
    out = tmp_path / "report"
    code, stdout, stderr = run(data, tmp_path, "--json", "--report", str(out))
    assert code == 0, stderr
    printed = json.loads(stdout)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == printed
    assert printed["split"] == "test" and printed["questions"] == 3
    assert printed["retriever_adapter"] == "retriever/v1"  # the promoted one, as servers load
    for path in ("retriever", "citations"):
        figures = printed[path]
        assert figures["questions"] == 3
        assert 0 <= figures["recall_at_1"] <= figures["recall_at_3"] <= 1
        assert set(figures["per_article"]) == {
            "tracking-a-parcel",
            "how-to-return",
            "return-policy",
            "sustainable-packaging",
        }
    assert printed["threshold"]["setting"] == 0.45
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "What the bot cites" in page and "<td>tracking-a-parcel</td>" in page
    assert "<script" not in page


def test_report_escapes_the_questions_it_lists() -> None:
    missed = RankedQuestion(HOSTILE, ("tracking-a-parcel",), ("<b>x</b>",), 0.5)
    result = {"questions": 1, "threshold": threshold_fit([missed], 0.45)}
    for path in ("retriever", "citations"):
        result[path] = ranking_metrics([missed])
    page = render_report(result, [missed], "<i>title</i>")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; where is my parcel" in page
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td>" in page and "&lt;i&gt;title&lt;/i&gt;" in page
    assert "<script" not in page and "<b>" not in page and "<i>" not in page


def test_tune_half_and_the_plain_summary(tmp_path: Path) -> None:
    data = dataset(tmp_path, "where is my parcel,tracking-a-parcel,tune\ncancel it,order-cancellation,test\n")
    code, stdout, _ = run(data, tmp_path, "--split", "tune")
    assert code == 0
    assert stdout.startswith("1 tune questions, intent adapter default/")
    assert ", retriever retriever/v1\n" in stdout
    assert "retriever  recall@1 1.0000" in stdout


def test_bad_rows_are_reported_before_any_model_loads(tmp_path: Path) -> None:
    data = dataset(tmp_path, "where is it,no-such-article,test\n")
    code, _, stderr = run(data, tmp_path)
    assert code == 1
    assert "line 2: unknown article 'no-such-article'" in stderr


def test_validation_split_is_not_a_retrieval_split(tmp_path: Path) -> None:
    data = dataset(tmp_path, "where is it,tracking-a-parcel,test\n")
    code, _, stderr = run(data, tmp_path, "--split", "val")
    assert code == 2 and "tune and test" in stderr
