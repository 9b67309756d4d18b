"""Assigning a conversation to a staff member, in the database so every console and process sees it.

An assignment says whose a conversation is: a waiting chat assigned to Ann shows under Ann's
"mine" filter for every console. Agents assign to themselves (or give their own back);
operators assign to anyone. A chat someone is already talking in moves to its new assignee,
who then holds it (the customer sees the new name). Closed conversations are not assigned.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, StaffUser
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.staff.accounts import StaffIdentity
from bot.staff.roles import role_includes


@dataclass(frozen=True)
class Assignment:
    status: str
    username: str | None
    display_name: str | None


def assign(
    factory: sessionmaker[Session], conversation_id: str, staff: StaffIdentity, username: str | None
) -> Assignment:
    """Assign to ``username`` (None: to nobody); one conditional UPDATE, so a race has one winner."""
    supervisor = role_includes(staff.role, "operator")
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("unknown_conversation", "conversation not found")
        if conversation.status == "closed":
            raise Conflict("already_closed", "this conversation is closed")
        target = _assignee(session, username)
        current = conversation.assigned_to_id
        if not supervisor and (
            (target is not None and target.id != staff.id) or (current is not None and current != staff.id)
        ):
            raise Forbidden("forbidden", "agents assign conversations to themselves; others need an operator")
        if conversation.status == "agent" and target is None:
            raise InvalidInput("hand_back_instead", "hand the conversation back to the bot instead")
        result = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == conversation.status,
                Conversation.assigned_to_id.is_(None)
                if current is None
                else Conversation.assigned_to_id == current,
            )
            .values(assigned_to_id=target.id if target else None, updated_at=Conversation.updated_at)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict("changed_meanwhile", "someone changed this conversation a moment ago; look again")
        session.commit()
        return Assignment(
            conversation.status, target.username if target else None, target.display_name if target else None
        )


def _assignee(session: Session, username: str | None) -> StaffUser | None:
    if username is None:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        raise InvalidInput("unknown_user", f"no active staff member {username!r}")
    return user
