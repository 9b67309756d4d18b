"""A database with conversations in it: every kind of row that derives from a customer's words."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.migrate import upgrade
from bot.db.models import Base, Conversation, CsatRating, Feedback, Label, Message, Prediction
from bot.db.session import create_db_engine, create_session_factory


def migrated_factory(database_url: str) -> sessionmaker[Session]:
    upgrade(database_url)
    return create_session_factory(create_db_engine(database_url))


def seed_conversation(
    factory: sessionmaker[Session],
    customer_texts: list[str],
    *,
    at: dt.datetime | None = None,
    staff_label: str | None = "track_order",
) -> tuple[str, list[int]]:
    """A conversation with the customer's turns, bot replies, predictions (one shadow), a staff
    label on each turn, thumbs on each reply and a CSAT rating; returns (id, customer message ids)."""
    at = at or dt.datetime.now(dt.UTC)
    conversation_id = str(uuid.uuid4())
    customer_ids = []
    with factory() as session, session.begin():
        token_hash = uuid.uuid4().hex
        session.add(Conversation(id=conversation_id, token_hash=token_hash, created_at=at, updated_at=at))
        seq = 0
        for text in customer_texts:
            seq += 1
            turn = Message(conversation_id=conversation_id, seq=seq, role="user", text=text, created_at=at)
            session.add(turn)
            session.flush()
            customer_ids.append(turn.id)
            for shadow in (False, True):
                session.add(
                    Prediction(
                        message_id=turn.id,
                        intent="track_order",
                        confidence=0.9,
                        top_k=[{"intent": "track_order", "confidence": 0.9}],
                        adapter_version="default/v1",
                        latency_ms=3.0,
                        shadow=shadow,
                    )
                )
            if staff_label is not None:
                session.add(Label(message_id=turn.id, intent=staff_label, source="staff", created_by="ann"))
            seq += 1
            reply = Message(
                conversation_id=conversation_id,
                seq=seq,
                role="bot",
                text="Here is how to track it.",
                reply_to_id=turn.id,
                payload={"intent": {"name": "track_order", "confidence": 0.9}, "customer_said": text},
                created_at=at,
            )
            session.add(reply)
            session.flush()
            session.add(Feedback(message_id=reply.id, rating="down"))
        session.add(CsatRating(conversation_id=conversation_id, rating=2, comment=f"re: {customer_texts[0]}"))
        session.execute(
            Conversation.__table__.update()  # type: ignore[attr-defined]
            .where(Conversation.id == conversation_id)
            .values(last_seq=seq, reviewed_by="ann", reviewed_at=at)
        )
    return conversation_id, customer_ids


def rows_containing(factory: sessionmaker[Session], needle: str) -> list[str]:
    """Every row of every table whose values, printed, contain ``needle``."""
    found = []
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                if needle.lower() in repr(tuple(row)).lower():
                    found.append(f"{table.name}: {tuple(row)!r}")
    return found
