"""Learning rounds as jobs: one at a time, each one's state and progress kept in files.

A round lives in ``<state_dir>/rounds/<id>/``:

- ``status.json``: state, phase, progress, recent messages, the candidate and its gate report.
  Only the round's own process writes it (atomically, by rename).
- ``alive.lock``: locked by the round's process for as long as it runs.
- ``cancel``: present once someone asked the round to stop.
- ``decision.json``: what an operator did with the candidate (promote, shadow, discard).

``<state_dir>/rounds/round.lock`` is held by whichever round runs, so a second one cannot start,
from the console or from ``bot retrain``, in any process on this host.

Why files and ``flock`` rather than a database table: the locks belong to the round's process,
so the operating system releases them whenever that process ends, cleanly or not (a crash, an
out-of-memory kill). "One at a time" can never be wedged by a stale row, and a record still
saying ``running`` after its process died is recognised from the free lock alone, with no
heartbeat. A round writes its adapter into the adapter store on this host's disk anyway, so a
round is a one-host affair; several server processes on the host share the state directory.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import Conflict, NotFound

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
STATUS, DECISION, CANCEL, ALIVE_LOCK = "status.json", "decision.json", "cancel", "alive.lock"
ROUND_LOCK = "round.lock"
KEPT_MESSAGES = 40
# How often progress is written while training runs: often enough for a console that polls
# every second or two, rarely enough to cost nothing.
WRITE_EVERY_S = 0.5
_ROUND_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


class RoundBusy(Conflict):
    def __init__(self, running: dict[str, Any] | None) -> None:
        who = f" (round {running['id']}, started by {running['started_by']})" if running else ""
        super().__init__("round_running", f"a learning round is already running{who}; wait or cancel it")
        self.running = running


class UnknownRound(NotFound):
    def __init__(self, round_id: str) -> None:
        super().__init__("unknown_round", f"unknown round {round_id!r}")


@dataclass(frozen=True)
class RoundOptions:
    epochs: int | None = None
    warm_start: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "warm_start": self.warm_start}


@dataclass
class Claim:
    """A round that holds the round lock and its own alive lock (open file descriptors)."""

    round_id: str
    directory: Path
    lock_fds: tuple[int, int]
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            for fd in self.lock_fds:
                os.close(fd)
            self.released = True


def rounds_root(settings: Settings) -> Path:
    return settings.state_dir / "rounds"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def claim(settings: Settings, started_by: str, options: RoundOptions, pid: int | None = None) -> Claim:
    """Take the round lock and create the round's record; raises RoundBusy when one runs.

    ``pid``: the process that will run the round, when it is this one (a spawned round
    process records its own)."""
    root = rounds_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    round_fd = _try_lock(root / ROUND_LOCK)
    if round_fd is None:
        raise RoundBusy(running(settings))
    round_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    directory = root / round_id
    directory.mkdir()
    alive_fd = _try_lock(directory / ALIVE_LOCK)
    assert alive_fd is not None, "a new round's alive lock is free: nobody else knows the round yet"
    status: dict[str, Any] = {
        "id": round_id,
        "state": QUEUED,
        "phase": "starting",
        "started_by": started_by,
        "started_at": now(),
        "updated_at": now(),
        "finished_at": None,
        "options": options.to_json(),
        "progress": {"step": 0, "steps": 0},
        "messages": [],
        "candidate": None,
        "metrics": None,
        "gate": None,
        "error": None,
        "pid": pid,
    }
    # The status is written after the lock is held: readers only look at rounds with a status.
    write_json(directory / STATUS, status)
    return Claim(round_id, directory, (round_fd, alive_fd))


def read(settings: Settings, round_id: str) -> dict[str, Any]:
    """A round's record as the console shows it, with what its process can no longer say."""
    directory = round_directory(settings, round_id)
    try:
        status: dict[str, Any] = json.loads((directory / STATUS).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise UnknownRound(round_id) from error
    cancel_requested = (directory / CANCEL).exists()
    if status["state"] not in FINISHED and not is_alive(directory):
        # The process ended without writing an end: killed, crashed, or cancelled before it
        # could say so.
        status["state"] = CANCELLED if cancel_requested else FAILED
        status["error"] = status["error"] or (
            None if cancel_requested else "the round's process ended without finishing (killed or crashed)"
        )
    status["cancel_requested"] = cancel_requested
    status["cancelled_by"] = (directory / CANCEL).read_text(encoding="utf-8") if cancel_requested else None
    decision_path = directory / DECISION
    status["decision"] = (
        json.loads(decision_path.read_text(encoding="utf-8")) if decision_path.exists() else None
    )
    return status


def recent(settings: Settings, limit: int = 20) -> list[dict[str, Any]]:
    """The newest rounds first."""
    root = rounds_root(settings)
    if not root.is_dir():
        return []
    ids = sorted((p.name for p in root.iterdir() if _ROUND_ID.match(p.name)), reverse=True)
    records = []
    for round_id in ids:
        if (root / round_id / STATUS).exists():
            records.append(read(settings, round_id))
        if len(records) == limit:
            break
    return records


def running(settings: Settings) -> dict[str, Any] | None:
    """The round that is running now, if any."""
    return next((r for r in recent(settings, limit=5) if r["state"] not in FINISHED), None)


def request_cancel(settings: Settings, round_id: str, actor: str) -> dict[str, Any]:
    """Ask a running round to stop. The round checks for the marker after every training step
    and between phases, and stops within seconds; nothing is ever killed half-way through
    writing an adapter or the registry."""
    record = read(settings, round_id)
    if record["state"] in FINISHED:
        raise Conflict("round_finished", f"round {round_id} has already {record['state']}")
    (round_directory(settings, round_id) / CANCEL).write_text(actor, encoding="utf-8")
    return read(settings, round_id)


def record_decision(
    settings: Settings, round_id: str, action: str, actor: str, reason: str
) -> dict[str, Any]:
    directory = round_directory(settings, round_id)
    decision = {"action": action, "actor": actor, "reason": reason, "at": now()}
    write_json(directory / DECISION, decision)
    return decision


def round_directory(settings: Settings, round_id: str) -> Path:
    if not _ROUND_ID.match(round_id):
        raise UnknownRound(round_id)
    return rounds_root(settings) / round_id


def is_alive(directory: Path) -> bool:
    fd = _try_lock(directory / ALIVE_LOCK, create=False)
    if fd is None:
        return (directory / ALIVE_LOCK).exists()
    os.close(fd)  # closing releases the probe's lock at once
    return False


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write by rename, so a reader never sees half a file."""
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(partial, path)


def _try_lock(path: Path, create: bool = True) -> int | None:
    """An open descriptor holding an exclusive ``flock`` on ``path``, or None when it is taken
    (or, without ``create``, when the file does not exist)."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


class StatusWriter:
    """The round process's side: phase, progress and messages, written to ``status.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.status: dict[str, Any] = json.loads((directory / STATUS).read_text(encoding="utf-8"))
        self._written_at = 0.0

    @property
    def cancel_requested(self) -> bool:
        return (self.directory / CANCEL).exists()

    def update(self, force: bool = True, **fields: Any) -> None:
        self.status.update(fields)
        if force or time.monotonic() - self._written_at >= WRITE_EVERY_S:
            self.flush()

    def phase(self, name: str) -> None:
        self.update(state=RUNNING, phase=name)

    def message(self, text: str) -> None:
        messages = [*self.status["messages"], {"at": now(), "text": text}][-KEPT_MESSAGES:]
        self.update(messages=messages)

    def step(self, done: int, total: int) -> None:
        fields: dict[str, Any] = {"progress": {"step": done, "steps": total}}
        if done == total:
            fields["phase"] = "evaluating"
        self.update(force=done == total, **fields)

    def finish(self, state: str, **fields: Any) -> None:
        self.update(state=state, phase=state, finished_at=now(), **fields)

    def flush(self) -> None:
        self.status["updated_at"] = now()
        write_json(self.directory / STATUS, self.status)
        self._written_at = time.monotonic()
