"""Run a learning round as a job: in its own process, at a lower priority, with fewer threads.

``start`` (the console's way) claims the round lock, then starts
``python -m bot.learning.round_process ROUND_DIR`` with the lock's descriptors inherited, so the
new process holds them and the server holds nothing. ``bot retrain`` claims the lock and runs
the round in its own process with :func:`run_claimed`. Either way the round lowers its
priority (``BOT_ROUND_NICENESS``) and trains on ``BOT_ROUND_THREADS`` torch threads, leaving
a core to the server's inference thread, and reports its phase and every training step in its
status file, which the console polls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import PROJECT_ROOT, Settings
from bot.learning import round_jobs
from bot.learning.round_jobs import CANCELLED, FAILED, SUCCEEDED, Claim, RoundOptions, StatusWriter

if TYPE_CHECKING:
    from bot.learning.retrain import RetrainResult


class RoundCancelled(Exception):
    """Raised inside the round when someone asked it to stop."""


def round_thread_count(settings: Settings) -> int:
    """``BOT_ROUND_THREADS``, else one fewer than the cores (at least one)."""
    return settings.round_threads or max(1, (os.cpu_count() or 1) - 1)


def start(settings: Settings, started_by: str, options: RoundOptions) -> dict[str, Any]:
    """Start a round in a new process; returns its record at once. Raises RoundBusy."""
    claim = round_jobs.claim(settings, started_by, options)
    try:
        with (claim.directory / "process.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "bot.learning.round_process", str(claim.directory)),
                    *("--lock-fds", ",".join(str(fd) for fd in claim.lock_fds)),
                ],
                pass_fds=claim.lock_fds,
                env=round_environment(settings),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: stopping the server (Ctrl-C, a signal to its group) leaves
                # the round running; a restarted server finds it in the state directory.
                start_new_session=True,
            )
    finally:
        # The child holds the locks now (or, if it could not start, nobody does).
        claim.release()
    # Reap it when it ends, so a long-running server collects no zombies.
    threading.Thread(target=process.wait, name=f"round-{claim.round_id}", daemon=True).start()
    return round_jobs.read(settings, claim.round_id)


def round_environment(settings: Settings) -> dict[str, str]:
    """The server's settings as ``BOT_*`` variables (they may not come from the environment)."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        key = f"BOT_{name.upper()}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value if isinstance(value, str) else json.dumps(value)
    env["BOT_TORCH_THREADS"] = str(round_thread_count(settings))
    return env


def run_claimed(
    settings: Settings,
    claim: Claim,
    config_epochs: int | None = None,
    warm_start: bool | None = None,
    on_message: Callable[[str], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> RetrainResult | None:
    """Run the claimed round in this process (lower priority, fewer threads) and record how it
    ended; returns the result, or None when it failed or was cancelled (the record says why)."""
    writer = StatusWriter(claim.directory)
    writer.update(pid=os.getpid())
    try:
        if writer.cancel_requested:
            # Cancelled before it began: stop before loading torch and the models (seconds).
            writer.finish(CANCELLED)
            return None
        lower_priority(settings)
        return _run(settings, writer, config_epochs, warm_start, on_message, on_step)
    finally:
        claim.release()


def lower_priority(settings: Settings) -> None:
    import torch

    os.nice(settings.round_niceness)
    torch.set_num_threads(round_thread_count(settings))


def _run(
    settings: Settings,
    writer: StatusWriter,
    epochs: int | None,
    warm_start: bool | None,
    on_message: Callable[[str], None] | None,
    on_step: Callable[[int, int], None] | None,
) -> RetrainResult | None:
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry
    from bot.intents.train import TrainingConfig
    from bot.learning.retrain import retrain

    def check_cancel() -> None:
        if writer.cancel_requested:
            raise RoundCancelled

    def message(text: str) -> None:
        writer.message(text)
        if on_message is not None:
            on_message(text)

    def phase(name: str) -> None:
        # Once the candidate is saved and registered, its gate runs to the end (seconds) and
        # the cancellation is honoured after it, when the candidate's id is known.
        if name != "gating":
            check_cancel()
        writer.phase(name)
        message(name)

    def step(done: int, total: int) -> None:
        check_cancel()
        if writer.status["phase"] != "training":
            writer.phase("training")
        writer.step(done, total)
        if on_step is not None:
            on_step(done, total)

    engine = create_db_engine(settings.database_url)
    factory = create_session_factory(engine)
    candidate: str | None = None
    try:
        check_cancel()
        registry.sync_from_disk(
            factory, settings.adapter_dir, settings.adapter_name, settings.adapter_version
        )
        config = TrainingConfig(device=settings.device)
        if epochs is not None:
            config.epochs = epochs
        result = retrain(
            factory,
            settings,
            config,
            warm_start,
            progress=message,
            on_phase=phase,
            on_step=step,
            data_dir=writer.directory / "data",
        )
        candidate = result.ref.id
        check_cancel()
        writer.finish(
            SUCCEEDED,
            candidate=candidate,
            metrics=result.metrics,
            gate=result.gate.report if result.gate is not None else None,
        )
        return result
    except (RoundCancelled, KeyboardInterrupt):
        if candidate is not None:
            # Trained but not wanted: retire it, so it is never offered for promotion.
            registry.discard(factory, candidate, actor="round", reason="round cancelled")
        writer.finish(CANCELLED, candidate=candidate)
        return None
    except Exception as error:  # noqa: BLE001 - any failure must end up in the record
        traceback.print_exc()
        writer.message(traceback.format_exc(limit=4))
        writer.finish(FAILED, error=f"{type(error).__name__}: {error}")
        return None
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one learning round (started by the console).")
    parser.add_argument("directory", type=Path, help="The round's folder, created by the console.")
    parser.add_argument("--lock-fds", required=True, help="The inherited round and alive lock descriptors.")
    args = parser.parse_args(argv)
    fds = [int(fd) for fd in args.lock_fds.split(",")]
    directory: Path = args.directory
    claim = Claim(directory.name, directory, (fds[0], fds[1]))
    options = json.loads((directory / round_jobs.STATUS).read_text(encoding="utf-8"))["options"]
    run_claimed(Settings(), claim, options["epochs"], options["warm_start"])


if __name__ == "__main__":
    main()
