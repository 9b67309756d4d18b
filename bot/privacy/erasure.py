"""Erase conversations and everything derived from them, and mark the adapters that learnt from them.

Which tables go with a conversation is read from the schema: every table with a foreign key
path to ``conversations`` (messages, predictions, labels, feedback, ratings, and whatever a
later feature adds with a foreign key) is deleted from, children first. A table that holds
customer data without such a key is listed in ``UNLINKED_BY_MESSAGE``.

Rows are deleted, not flagged. On SQLite every connection runs with ``secure_delete`` (the
freed bytes are overwritten with zeros, see ``bot/db/session.py``) and the WAL is checkpointed
and truncated after the erasure commits, so no copy of the words stays in the files. On
PostgreSQL the deleted row versions stay in the table files until VACUUM, which the erasure
runs on the tables it deleted from; WAL segments keep them until they are recycled, archives
and backups until they expire (README, "Privacy").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, Table, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from bot.db.models import (
    AdapterEvent,
    AdapterTrainingTurn,
    AdapterVersion,
    Base,
    Conversation,
    ErasureRecord,
    Message,
    RetainedTrainingTurn,
    utcnow,
)
from bot.privacy.rounds import erased_texts, remove_rounds_with, scrub_quotes

log = logging.getLogger(__name__)

T = TypeVar("T")
REQUEST, RETENTION = "request", "retention"
# Bound parameters per IN (...) list: SQLite allows 32766, PostgreSQL 65535.
CHUNK = 500
# Tables keyed by a message id without a foreign key (they must outlive the message).
UNLINKED_BY_MESSAGE: tuple[InstrumentedAttribute[int], ...] = (
    AdapterTrainingTurn.message_id,
    RetainedTrainingTurn.message_id,
)


@dataclass(frozen=True)
class ErasureResult:
    conversations: int
    messages: int
    adapters_marked: list[str] = field(default_factory=list)
    round_folders_removed: int = 0


def erased_tables() -> list[Table]:
    """Every table with a foreign-key path to ``conversations``, children before parents."""
    root = Conversation.__table__
    linked: set[Table] = {root}  # type: ignore[arg-type]
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.tables.values():
            if table in linked:
                continue
            if any(fk.column.table in linked for fk in table.foreign_keys):
                linked.add(table)
                changed = True
    order = Base.metadata.sorted_tables
    return [table for table in reversed(order) if table in linked]


def erase_conversations(
    factory: sessionmaker[Session],
    conversation_ids: Iterable[str],
    *,
    actor: str,
    state_dir: Path | None = None,
    reason: str = REQUEST,
    mark_adapters: bool = True,
    rewrite_tables: bool = False,
) -> ErasureResult:
    """Delete the conversations and what derives from them; record who did it and how many.

    ``state_dir``: where round data sets live (``<state_dir>/rounds``); folders holding an
    erased turn are removed. Unknown ids are ignored (an erasure may be repeated safely).
    ``mark_adapters=False`` (retention) leaves the adapters and their turn records alone: the
    turns were not taken back by anyone, they aged out. ``rewrite_tables`` (PostgreSQL):
    VACUUM FULL instead of VACUUM, see ``clear_free_space``.
    """
    wanted = sorted(set(conversation_ids))
    with factory() as session, session.begin():
        found = _existing(session, wanted)
        message_ids = _message_ids(session, found)
        texts = erased_texts(_customer_texts(session, message_ids))
        marked = _mark_adapters(session, message_ids) if mark_adapters else []
        _scrub_gate_reports(session, texts)
        for column in UNLINKED_BY_MESSAGE if mark_adapters else ():
            for ids in _chunks(message_ids):
                session.execute(delete(column.class_).where(column.in_(ids)))
        for conversations in _chunks(found):
            _delete_linked(session, conversations)
        session.add(
            ErasureRecord(
                actor=actor,
                reason=reason,
                conversations=len(found),
                messages=len(message_ids),
                adapters_marked=len(marked),
            )
        )
    if found:
        clear_free_space(factory.kw["bind"], rewrite_tables)
    removed = remove_rounds_with(state_dir / "rounds", set(message_ids), texts) if state_dir else 0
    log.info("%s erased %d conversations (%d messages)", actor, len(found), len(message_ids))
    return ErasureResult(len(found), len(message_ids), marked, removed)


def _existing(session: Session, ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for chunk in _chunks(ids):
        found += session.scalars(select(Conversation.id).where(Conversation.id.in_(chunk)))
    return found


def _message_ids(session: Session, conversation_ids: Sequence[str]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(conversation_ids):
        ids += session.scalars(select(Message.id).where(Message.conversation_id.in_(chunk)))
    return ids


def _customer_texts(session: Session, message_ids: Sequence[int]) -> list[str]:
    texts: list[str] = []
    for chunk in _chunks(message_ids):
        texts += session.scalars(select(Message.text).where(Message.id.in_(chunk), Message.role == "user"))
    return texts


def _mark_adapters(session: Session, message_ids: Sequence[int]) -> list[str]:
    """Count, per adapter version, the erased turns it learnt from; return the versions marked."""
    counts: dict[str, int] = {}
    for chunk in _chunks(message_ids):
        rows = session.execute(
            select(AdapterTrainingTurn.adapter_id, func.count())
            .where(AdapterTrainingTurn.message_id.in_(chunk))
            .group_by(AdapterTrainingTurn.adapter_id)
        )
        for adapter_id, count in rows:
            counts[adapter_id] = counts.get(adapter_id, 0) + count
    now = utcnow()
    for adapter_id, count in counts.items():
        session.execute(
            update(AdapterVersion)
            .where(AdapterVersion.id == adapter_id)
            .values(
                erased_turns=AdapterVersion.erased_turns + count,
                erased_at=func.coalesce(AdapterVersion.erased_at, now),
            )
        )
    return sorted(counts)


def _scrub_gate_reports(session: Session, texts: set[str]) -> None:
    """Promotion events keep their gate report, which quotes the turns whose prediction changed."""
    if not texts:
        return
    for event in session.scalars(select(AdapterEvent)):
        scrubbed = scrub_quotes(event.report, texts)
        if scrubbed != event.report:
            event.report = scrubbed


def _delete_linked(session: Session, conversation_ids: Sequence[str]) -> None:
    for table in erased_tables():
        session.execute(delete(table).where(_belongs_to(table, conversation_ids)))


def _belongs_to(table: Table, conversation_ids: Sequence[str]) -> ColumnElement[bool]:
    """Rows of ``table`` that belong to the conversations, through its foreign keys."""
    root = Conversation.__table__
    if table is root:
        return Conversation.id.in_(conversation_ids)
    conditions = []
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent is table or parent not in erased_tables():
            continue  # a self-reference (a reply to a message) or a link elsewhere (staff, adapters)
        parent_rows = select(fk.column).where(_belongs_to(parent, conversation_ids))
        conditions.append(fk.parent.in_(parent_rows))
    return conditions[0] if len(conditions) == 1 else or_(*conditions)


def clear_free_space(engine: Engine, rewrite_tables: bool = False) -> None:
    """Make the database drop its copies of deleted rows.

    SQLite: the WAL is truncated (secure_delete has zeroed the pages already). PostgreSQL: a
    plain VACUUM of the erased tables, which runs beside the chat; it removes the dead row
    versions, but the bytes of those at the end of a page's tuple area can stay in its free
    space until new rows take it (measured: tests/privacy/test_erasure.py). ``rewrite_tables``
    runs VACUUM FULL, which writes the tables anew and leaves no copy in their files, but
    holds an exclusive lock on each table (the chat waits) while it copies it.
    """
    if engine.dialect.name == "postgresql":
        tables = ", ".join(engine.dialect.identifier_preparer.quote(t.name) for t in erased_tables())
        command = f"VACUUM (FULL) {tables}" if rewrite_tables else f"VACUUM {tables}"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(command)
    elif engine.dialect.name == "sqlite":
        truncate_sqlite_wal(engine)


def truncate_sqlite_wal(engine: Engine) -> None:
    """Copy the WAL into the database and cut it to zero bytes.

    A reader still inside a transaction keeps its frames needed, so this retries briefly.
    """
    with engine.connect() as connection:
        for _ in range(50):
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
            if not busy:
                return
            time.sleep(0.1)
    log.warning("the SQLite WAL could not be truncated: a reader kept it busy; it is on the next erasure")


def _chunks(values: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def erasure_record(row: ErasureRecord) -> dict[str, Any]:
    return {
        "actor": row.actor,
        "reason": row.reason,
        "conversations": row.conversations,
        "messages": row.messages,
        "adapters_marked": row.adapters_marked,
        "at": row.created_at.isoformat(),
    }


def erasure_log(factory: sessionmaker[Session], limit: int = 100) -> list[ErasureRecord]:
    with factory() as session:
        return list(session.scalars(select(ErasureRecord).order_by(ErasureRecord.id.desc()).limit(limit)))
