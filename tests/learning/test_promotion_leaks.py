"""A long-running server promotes many times: no temporary folder and no loaded adapter piles up."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config import PROJECT_ROOT, Settings
from bot.intents import registry, store
from bot.intents.dataset import read_examples, write_examples
from bot.learning import retrain
from bot.learning.retrain import promote

PROMOTIONS = 100


def distinct_copy(source: Path, target: Path) -> None:
    """A third version with its own files (another temperature), so its manifest differs."""
    shutil.copytree(source, target)
    calibration = json.loads((target / "calibration.json").read_text())
    calibration["temperature"] = calibration["temperature"] * 1.01
    (target / "calibration.json").write_text(json.dumps(calibration))
    (target / store.MANIFEST).write_text(json.dumps({"sha256": store.file_hashes(target)}))


@pytest.fixture
def small_gate_settings(loop_settings: Settings, tmp_path: Path) -> Settings:
    """The seed data with a held-out split of one utterance in four intents: the point here is
    what a promotion leaves behind, not the gate's statistics, which have their own tests."""
    data = tmp_path / "small-data"
    shutil.copytree(PROJECT_ROOT / "data", data)
    held_out = read_examples(data / "test.csv")
    write_examples(data / "test.csv", [held_out[i * 13] for i in range(4)])
    distinct_copy(loop_settings.adapter_dir / "default" / "v1", loop_settings.adapter_dir / "default" / "v4")
    return loop_settings.model_copy(update={"data_dir": data, "gate_bootstrap_resamples": 100})


def test_a_hundred_promotions_leave_no_temporary_folder_and_two_loaded_adapters(
    factory: sessionmaker[Session],
    small_gate_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    registry.sync_from_disk(factory, small_gate_settings.adapter_dir, "default", "v1")
    counts = []
    for i in range(PROMOTIONS):
        # default/v2 is the weak adapter, so the gate refuses it and the promotion is forced.
        target = "default/v2" if i % 2 == 0 else "default/v1"
        promote(factory, small_gate_settings, target, actor="ops", reason="leak test", force=True)
        counts.append(retrain.cached_classifiers())
    # A version never compared before replaces the least recently used one.
    promote(factory, small_gate_settings, "default/v4", actor="ops", reason="leak test", force=True)
    counts.append(retrain.cached_classifiers())

    assert registry.production(factory).id == "default/v4"  # type: ignore[union-attr]
    assert list(scratch.iterdir()) == []
    assert max(counts) == retrain.CLASSIFIER_CACHE_SIZE == 2
    assert counts[-1] == 2
