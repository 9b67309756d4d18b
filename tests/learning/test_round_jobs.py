"""Round records and locks without training: one round at a time, and a dead round is seen as ended."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import Conflict
from bot.learning import round_jobs
from bot.learning.round_jobs import RoundBusy, RoundOptions, StatusWriter, UnknownRound


@pytest.fixture
def job_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"state_dir": tmp_path / "state"})


def test_a_second_round_is_refused_while_the_first_holds_the_lock(job_settings: Settings) -> None:
    first = round_jobs.claim(job_settings, "ann", RoundOptions(epochs=1))
    with pytest.raises(RoundBusy) as refused:
        round_jobs.claim(job_settings, "bob", RoundOptions())
    assert refused.value.code == "round_running"
    assert refused.value.running is not None and refused.value.running["id"] == first.round_id
    assert round_jobs.running(job_settings)["id"] == first.round_id  # type: ignore[index]
    first.release()
    second = round_jobs.claim(job_settings, "bob", RoundOptions())
    second.release()


def test_the_lock_passes_to_a_child_process_and_is_freed_when_it_dies(job_settings: Settings) -> None:
    claim = round_jobs.claim(job_settings, "ann", RoundOptions())
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], pass_fds=claim.lock_fds, stdin=subprocess.PIPE
    )
    claim.release()  # only the child holds the locks now
    try:
        assert round_jobs.read(job_settings, claim.round_id)["state"] == round_jobs.QUEUED
        with pytest.raises(RoundBusy):
            round_jobs.claim(job_settings, "bob", RoundOptions())
    finally:
        child.kill()
        child.wait()
    record = round_jobs.read(job_settings, claim.round_id)
    assert record["state"] == round_jobs.FAILED
    assert "ended without finishing" in record["error"]
    round_jobs.claim(job_settings, "bob", RoundOptions()).release()


def test_a_cancel_before_the_process_reported_back_reads_as_cancelled(job_settings: Settings) -> None:
    claim = round_jobs.claim(job_settings, "ann", RoundOptions())
    record = round_jobs.request_cancel(job_settings, claim.round_id, "bob")
    assert record["cancel_requested"] and record["cancelled_by"] == "bob"
    assert record["state"] == round_jobs.QUEUED
    claim.release()
    assert round_jobs.read(job_settings, claim.round_id)["state"] == round_jobs.CANCELLED


def test_progress_and_the_end_are_written_for_readers(job_settings: Settings) -> None:
    claim = round_jobs.claim(job_settings, "ann", RoundOptions())
    writer = StatusWriter(claim.directory)
    writer.phase("training")
    writer.message("epoch 1/1")
    writer.step(3, 3)
    record = round_jobs.read(job_settings, claim.round_id)
    assert (record["state"], record["phase"], record["progress"]) == (
        round_jobs.RUNNING,
        "evaluating",
        {"step": 3, "steps": 3},
    )
    assert [m["text"] for m in record["messages"]] == ["epoch 1/1"]
    writer.finish(round_jobs.SUCCEEDED, candidate="default/v3")
    claim.release()
    record = round_jobs.read(job_settings, claim.round_id)
    assert (record["state"], record["candidate"]) == (round_jobs.SUCCEEDED, "default/v3")
    with pytest.raises(Conflict):
        round_jobs.request_cancel(job_settings, claim.round_id, "bob")
    assert [r["id"] for r in round_jobs.recent(job_settings)] == [claim.round_id]


@pytest.mark.parametrize("round_id", ["../../etc", "20261202T061733Z-zzzzzz", "nope"])
def test_round_ids_outside_the_pattern_are_unknown(job_settings: Settings, round_id: str) -> None:
    with pytest.raises(UnknownRound):
        round_jobs.read(job_settings, round_id)
