"""The open form of each conversation (``bot/chat/forms.py``) in the database.

Kept beside the conversation so that a reload, a resume on another process or a take-over by a
person finds the form where it was. The turn reads it and writes it back in the transaction
of its other writes; a form left unanswered for ``BOT_FORM_TTL_MINUTES`` counts as closed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

import anyio
from anyio import to_thread
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.forms import FormState
from bot.db.models import DialogueState, as_utc, utcnow

log = logging.getLogger(__name__)


_TABLE = cast(Table, DialogueState.__table__)
_COLUMNS = ("action", "intent", "slots", "asking", "wrong_answers", "updated_at")
# Core statements, built once: this runs on every customer turn.
_READ = select(*(_TABLE.c[name] for name in _COLUMNS)).where(
    _TABLE.c.conversation_id == bindparam("p_conversation")
)
_DELETE = delete(_TABLE).where(_TABLE.c.conversation_id == bindparam("p_conversation"))
_INSERT = insert(_TABLE)


def read_form(session: Session, conversation_id: str, ttl: dt.timedelta) -> FormState | None:
    row = session.connection().execute(_READ, {"p_conversation": conversation_id}).first()
    if row is None or as_utc(row.updated_at) < utcnow() - ttl:
        return None
    return FormState(row.action, row.intent, dict(row.slots), row.asking, row.wrong_answers)


def write_form(session: Session, conversation_id: str, state: FormState | None) -> None:
    """Store ``state`` as the conversation's form; None deletes it (and any personal values)."""
    connection = session.connection()
    connection.execute(_DELETE, {"p_conversation": conversation_id})
    if state is not None:
        row = {
            "conversation_id": conversation_id,
            "action": state.action,
            "intent": state.intent,
            "slots": dict(state.slots),
            "asking": state.asking,
            "wrong_answers": state.wrong_answers,
            "updated_at": utcnow(),
        }
        connection.execute(_INSERT, row)


def load_form(factory: sessionmaker[Session], conversation_id: str, ttl: dt.timedelta) -> FormState | None:
    with factory() as session:
        return read_form(session, conversation_id, ttl)


def save_form(factory: sessionmaker[Session], conversation_id: str, state: FormState | None) -> None:
    with factory() as session:
        write_form(session, conversation_id, state)
        session.commit()


def purge_expired_forms(factory: sessionmaker[Session], ttl: dt.timedelta) -> int:
    """Delete forms nobody finished (and the personal values they held); returns how many."""
    with factory() as session:
        result = session.execute(delete(DialogueState).where(DialogueState.updated_at < utcnow() - ttl))
        session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_expired_forms_every(
    factory: sessionmaker[Session], ttl: dt.timedelta, interval_seconds: float = 300.0
) -> None:
    """Delete abandoned forms every ``interval_seconds`` until cancelled (any process may: the
    delete is idempotent)."""
    while True:
        await anyio.sleep(interval_seconds)
        try:
            purged = await to_thread.run_sync(purge_expired_forms, factory, ttl)
        except Exception:  # noqa: BLE001 - a failed purge (database restart) is retried next time
            log.exception("purging abandoned forms failed")
            continue
        if purged:
            log.info("deleted %d abandoned form(s) and their values", purged)


def open_forms(factory: sessionmaker[Session]) -> list[DialogueState]:
    with factory() as session:
        return list(session.scalars(select(DialogueState)))
