"""Retention: conversations whose last message is older than ``BOT_RETENTION_DAYS`` are erased.

The server runs the purge once a day; a lease row in ``maintenance_leases`` makes sure only
one process of several sharing the database does it, and that a crashed holder's lease runs
out. ``BOT_RETAIN_LABELLED_REDACTED`` keeps the staff-labelled customer turns of a purged
conversation for training, redacted and detached from it (``retained_training_turns``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio import to_thread
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, Label, MaintenanceLease, Message, RetainedTrainingTurn, utcnow
from bot.privacy.erasure import CHUNK, RETENTION, erase_conversations
from bot.privacy.redact import redact

log = logging.getLogger(__name__)

LEASE = "retention"
RUN_EVERY = dt.timedelta(days=1)
LEASE_FOR = dt.timedelta(hours=1)
CHECK_EVERY_S = 15 * 60.0
STAFF = "staff"


@dataclass(frozen=True)
class PurgeResult:
    conversations: int
    messages: int
    retained_turns: int


def expired_conversations(factory: sessionmaker[Session], cutoff: dt.datetime) -> list[str]:
    """Conversations whose last message (or, with none, their start) is before ``cutoff``."""
    last_activity = func.coalesce(func.max(Message.created_at), Conversation.created_at)
    with factory() as session:
        return list(
            session.scalars(
                select(Conversation.id)
                .outerjoin(Message, Message.conversation_id == Conversation.id)
                .group_by(Conversation.id, Conversation.created_at)
                .having(last_activity < cutoff)
            )
        )


def purge_older_than(
    factory: sessionmaker[Session],
    days: int,
    *,
    state_dir: Path | None,
    keep_labelled_redacted: bool,
    actor: str = "retention",
    now: dt.datetime | None = None,
) -> PurgeResult:
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    expired = expired_conversations(factory, cutoff)
    kept = _staff_labelled_turns(factory, expired) if keep_labelled_redacted else []
    result = erase_conversations(
        factory, expired, actor=actor, state_dir=state_dir, reason=RETENTION, mark_adapters=False
    )
    if kept:
        with factory() as session, session.begin():
            for turn in kept:
                session.merge(turn)
    return PurgeResult(result.conversations, result.messages, len(kept))


def _staff_labelled_turns(
    factory: sessionmaker[Session], conversation_ids: list[str]
) -> list[RetainedTrainingTurn]:
    """The customer turns whose newest label is a staff label, redacted."""
    newest: dict[int, tuple[Label, str]] = {}
    with factory() as session:
        for start in range(0, len(conversation_ids), CHUNK):
            chunk = conversation_ids[start : start + CHUNK]
            rows = session.execute(
                select(Label, Message.text)
                .join(Message, Message.id == Label.message_id)
                .where(Message.role == "user", Message.conversation_id.in_(chunk))
                .order_by(Label.message_id, Label.id)
            )
            for label, text in rows:
                newest[label.message_id] = (label, text)
    return [
        RetainedTrainingTurn(
            message_id=message_id,
            text=redact(text),
            intent=label.intent,
            labelled_by=label.created_by,
            labelled_at=label.created_at,
        )
        for message_id, (label, text) in newest.items()
        if label.source == STAFF
    ]


def take_lease(factory: sessionmaker[Session], holder: str, now: dt.datetime | None = None) -> bool:
    """True when this caller may run today's purge: nobody holds the lease and it is due."""
    now = now or utcnow()
    due = now - RUN_EVERY
    with factory() as session:
        try:
            with session.begin():
                session.add(MaintenanceLease(name=LEASE))
        except IntegrityError:
            pass  # the row exists already
        with session.begin():
            taken = session.execute(
                update(MaintenanceLease)
                .where(
                    MaintenanceLease.name == LEASE,
                    MaintenanceLease.held_until.is_(None) | (MaintenanceLease.held_until < now),
                    MaintenanceLease.last_run_at.is_(None) | (MaintenanceLease.last_run_at <= due),
                )
                .values(holder=holder, held_until=now + LEASE_FOR)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]


def finish_lease(
    factory: sessionmaker[Session], holder: str, ran: bool, started_at: dt.datetime | None = None
) -> None:
    """Give the lease back; ``ran``: the purge that started at ``started_at`` completed."""
    with factory() as session, session.begin():
        values: dict[str, object] = {"holder": None, "held_until": None}
        if ran:
            values["last_run_at"] = started_at or utcnow()
        session.execute(
            update(MaintenanceLease)
            .where(MaintenanceLease.name == LEASE, MaintenanceLease.holder == holder)
            .values(**values)
        )


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class RetentionWorker:
    """Checks every quarter of an hour whether today's purge is due and runs it when it holds the lease."""

    factory: sessionmaker[Session]
    days: int
    state_dir: Path
    keep_labelled_redacted: bool
    holder: str = ""
    on_purged: Callable[[PurgeResult], None] | None = None

    async def run(self, check_every_s: float = CHECK_EVERY_S) -> None:
        holder = self.holder or process_name()
        while True:
            try:
                await to_thread.run_sync(self.run_once, holder)
            except Exception:  # a database hiccup must not end the loop; the next check retries
                log.exception("the retention purge failed")
            await anyio.sleep(check_every_s)

    def run_once(self, holder: str) -> PurgeResult | None:
        started_at = utcnow()
        if not take_lease(self.factory, holder, started_at):
            return None
        ran = False
        try:
            result = purge_older_than(
                self.factory,
                self.days,
                state_dir=self.state_dir,
                keep_labelled_redacted=self.keep_labelled_redacted,
            )
            ran = True
        finally:
            finish_lease(self.factory, holder, ran, started_at)
        log.info("retention: erased %d conversations older than %d days", result.conversations, self.days)
        if self.on_purged is not None:
            self.on_purged(result)
        return result
