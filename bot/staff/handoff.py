"""Live hand-off in the database: take a conversation over, write as an agent, hand it back, close it.

Each change is one conditional UPDATE, so two staff members racing for the same conversation
cannot both win: the database lets exactly one UPDATE match (SQLite serialises writers;
PostgreSQL re-checks the WHERE clause after the row lock).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, Message, StaffUser
from bot.errors import Conflict, NotFound
from bot.staff.accounts import StaffIdentity

LIVE_STATES = ("waiting", "agent")


def take_over(factory: sessionmaker[Session], conversation_id: str, staff: StaffIdentity) -> None:
    free = or_(Conversation.status != "agent", Conversation.assigned_to_id.is_(None))
    with factory() as session:
        if _update(session, conversation_id, free, status="agent", assigned_to_id=staff.id):
            session.commit()
            return
        conversation = _conversation(session, conversation_id)
        if conversation.assigned_to_id == staff.id:
            return
        raise Conflict("taken", f"{_holder(session, conversation)} has already taken this conversation over")


def hand_back(
    factory: sessionmaker[Session], conversation_id: str, staff: StaffIdentity, override: bool = False
) -> None:
    """Give the conversation back to the bot; only its agent may, or a supervisor with ``override``."""
    with factory() as session:
        mine = _held_by(staff) if not override else Conversation.status == "agent"
        if _update(
            session, conversation_id, Conversation.status == "agent", mine, status="bot", assigned_to_id=None
        ):
            session.commit()
            return
        conversation = _conversation(session, conversation_id)
        if conversation.status != "agent":
            raise Conflict("not_taken_over", "nobody has taken this conversation over")
        raise Conflict("not_yours", f"{_holder(session, conversation)} has this conversation")


def close(
    factory: sessionmaker[Session], conversation_id: str, staff: StaffIdentity, override: bool = False
) -> None:
    """Close the conversation: anyone may close one nobody has taken over; else as hand_back."""
    allowed = or_(Conversation.status != "agent", _held_by(staff)) if not override else true()
    with factory() as session:
        if _update(
            session,
            conversation_id,
            Conversation.status != "closed",
            allowed,
            status="closed",
            assigned_to_id=None,
        ):
            session.commit()
            return
        conversation = _conversation(session, conversation_id)
        if conversation.status == "closed":
            raise Conflict("already_closed", "this conversation is already closed")
        raise Conflict("not_yours", f"{_holder(session, conversation)} has this conversation")


def add_agent_message(
    factory: sessionmaker[Session], conversation_id: str, staff: StaffIdentity, text: str
) -> Message:
    """Store a message from the agent who holds the conversation, with the next seq."""
    with factory() as session:
        # The same UPDATE that hands out the seq checks that this agent still holds the chat.
        seq = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, _held_by(staff))
            .values(last_seq=Conversation.last_seq + 1)
            .returning(Conversation.last_seq)
        ).scalar_one_or_none()
        if seq is None:
            conversation = _conversation(session, conversation_id)
            if conversation.status != "agent":
                raise Conflict("not_taken_over", "take the conversation over before writing in it")
            raise Conflict("not_yours", f"{_holder(session, conversation)} has this conversation")
        message = Message(
            conversation_id=conversation_id,
            seq=seq,
            role="agent",
            text=text,
            payload={"agent_name": staff.display_name},
        )
        session.add(message)
        session.commit()
        return message


def holds(factory: sessionmaker[Session], conversation_id: str, staff_id: int) -> bool:
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        return (
            conversation is not None
            and conversation.status == "agent"
            and conversation.assigned_to_id == staff_id
        )


def agent_name(factory: sessionmaker[Session], conversation_id: str) -> str | None:
    """Display name of the staff member who holds the conversation, if any."""
    with factory() as session:
        return session.scalar(
            select(StaffUser.display_name)
            .join(Conversation, Conversation.assigned_to_id == StaffUser.id)
            .where(Conversation.id == conversation_id, Conversation.status == "agent")
        )


def live_conversations(factory: sessionmaker[Session]) -> list[Conversation]:
    """Waiting conversations (longest waiting first), then those staff hold."""
    with factory() as session:
        rows = session.scalars(
            select(Conversation)
            .where(Conversation.status.in_(LIVE_STATES))
            .order_by(Conversation.status.desc(), Conversation.updated_at)
        )
        return list(rows)


def _held_by(staff: StaffIdentity) -> ColumnElement[bool]:
    return (Conversation.status == "agent") & (Conversation.assigned_to_id == staff.id)


def _update(session: Session, conversation_id: str, *where: ColumnElement[bool], **values: Any) -> bool:
    result = session.execute(
        update(Conversation).where(Conversation.id == conversation_id, *where).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("unknown_conversation", "conversation not found")
    return conversation


def _holder(session: Session, conversation: Conversation) -> str:
    if conversation.assigned_to_id is None:
        return "someone else"
    user = session.get(StaffUser, conversation.assigned_to_id)
    return user.display_name if user is not None else "someone else"
