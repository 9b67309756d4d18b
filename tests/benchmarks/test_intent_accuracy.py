"""The accuracy benchmark's ``--quick`` slice: the script runs end to end and reports every row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "benchmarks" / "intent_accuracy.py"
DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
IN_CI = os.environ.get("CI", "").lower() == "true"
DATASET_ROWS = ["BANKING77", "BANKING77, 10 per intent", "CLINC150"]
METHODS = ["frozen + logistic regression", "LoRA (this project)"]


@pytest.fixture(scope="module")
def datasets() -> Path:
    """The public datasets; missing fails in CI and skips only on a developer machine."""
    if not (DATASETS / "banking77" / "train.csv").is_file() or not (DATASETS / "clinc150").is_dir():
        if IN_CI:
            raise RuntimeError(f"the benchmark datasets are required in CI at {DATASETS}")
        pytest.skip(f"benchmark datasets not found at {DATASETS}")
    return DATASETS


@pytest.mark.slow
def test_quick_benchmark_reports_both_methods_on_every_dataset(datasets: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--datasets",
            str(datasets),
            "--device",
            "cpu",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["quick"] is True
    rows = [(r["dataset"], r["method"]) for r in report["results"]]
    assert rows == [(dataset, method) for dataset in DATASET_ROWS for method in METHODS]
    for result in report["results"]:
        assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f1"] <= 1.0
        assert result["train_seconds"] > 0 and result["trainable_parameters"] > 0
        assert (result["out_of_scope"] is not None) == (result["dataset"] == "CLINC150")
    clinc_lora = report["results"][-1]["out_of_scope"]
    assert {"auroc", "recall", "in_scope_accuracy", "threshold"} <= set(clinc_lora)
    environment = report["environment"]
    assert environment["device"] == "cpu" and environment["torch_threads"] >= 1
    assert {"torch", "transformers", "peft", "scikit-learn"} <= set(environment["versions"])
    assert "| CLINC150 | LoRA (this project) |" in run.stdout, "the table is printed"
