"""The customer ends the conversation ("End chat" in the widget): it is closed, whoever held it.

A closed conversation takes no more messages from this widget, which offers the rating and then
a new conversation; a message that still arrives on the old token reopens it with the bot
(``status_after_reply``), as before.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation
from bot.wire.enums import ConversationStatus


def end_conversation(factory: sessionmaker[Session], conversation_id: str) -> bool:
    """Close the conversation; False when it was already closed (nothing changed)."""
    with factory() as session:
        result = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status != ConversationStatus.CLOSED)
            .values(status=ConversationStatus.CLOSED, assigned_to_id=None)
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]
