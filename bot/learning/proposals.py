"""New intent names proposed by staff; only those an operator approved enter the label set."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker


def approved_intents(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        rows = session.execute(text("SELECT name FROM intent_proposals WHERE status = 'approved'"))
        return {str(name) for (name,) in rows}
