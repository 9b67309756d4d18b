"""Private notes staff write on a conversation; the customer never sees them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, ConversationNote
from bot.errors import InvalidInput, NotFound

MAX_NOTE_CHARS = 4000


def add_note(
    factory: sessionmaker[Session], conversation_id: str, author: str, text: str
) -> ConversationNote:
    text = text.strip()
    if not text:
        raise InvalidInput("empty_text", "the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(
            "text_too_long", f"the note has {len(text)} characters; the limit is {MAX_NOTE_CHARS}"
        )
    with factory() as session:
        if session.get(Conversation, conversation_id) is None:
            raise NotFound("unknown_conversation", "conversation not found")
        note = ConversationNote(conversation_id=conversation_id, author=author, text=text)
        session.add(note)
        session.commit()
        return note


def notes_of(factory: sessionmaker[Session], conversation_id: str) -> list[ConversationNote]:
    with factory() as session:
        if session.get(Conversation, conversation_id) is None:
            raise NotFound("unknown_conversation", "conversation not found")
        return list(
            session.scalars(
                select(ConversationNote)
                .where(ConversationNote.conversation_id == conversation_id)
                .order_by(ConversationNote.id)
            )
        )


def note_view(note: ConversationNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "author": note.author,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }
