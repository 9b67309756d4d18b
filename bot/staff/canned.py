"""Canned replies: prepared answers an agent inserts by typing ``/shortcut`` in the composer.

Operators write them; every agent reads them. A shortcut is lower-case letters, digits, ``-``
and ``_`` so that it can be typed after the slash without ambiguity.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import CannedReply, utcnow
from bot.errors import Conflict, InvalidInput, NotFound

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
MAX_TEXT_CHARS = 4000


def list_replies(factory: sessionmaker[Session]) -> list[CannedReply]:
    with factory() as session:
        return list(session.scalars(select(CannedReply).order_by(CannedReply.shortcut)))


def save_reply(
    factory: sessionmaker[Session], shortcut: str, text: str, username: str, reply_id: int | None = None
) -> CannedReply:
    """Create a reply, or with ``reply_id`` change one; a shortcut is used once."""
    shortcut, text = _checked(shortcut, text)
    with factory() as session:
        if reply_id is None:
            reply = CannedReply(shortcut=shortcut, text=text, updated_by=username)
            session.add(reply)
        else:
            found = session.get(CannedReply, reply_id)
            if found is None:
                raise NotFound("unknown_canned_reply", f"no canned reply with id {reply_id}")
            reply = found
            reply.shortcut, reply.text, reply.updated_by, reply.updated_at = (
                shortcut,
                text,
                username,
                utcnow(),
            )
        try:
            session.commit()
        except IntegrityError:
            raise Conflict("shortcut_taken", f"/{shortcut} is already a canned reply") from None
        return reply


def delete_reply(factory: sessionmaker[Session], reply_id: int) -> None:
    with factory() as session:
        reply = session.get(CannedReply, reply_id)
        if reply is None:
            raise NotFound("unknown_canned_reply", f"no canned reply with id {reply_id}")
        session.delete(reply)
        session.commit()


def reply_view(reply: CannedReply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "shortcut": reply.shortcut,
        "text": reply.text,
        "updated_by": reply.updated_by,
        "updated_at": reply.updated_at.isoformat(),
    }


def _checked(shortcut: str, text: str) -> tuple[str, str]:
    shortcut = shortcut.strip().lstrip("/").lower()
    text = text.strip()
    if not SHORTCUT.match(shortcut):
        raise InvalidInput(
            "invalid_shortcut", "a shortcut is 1-50 characters: a-z, 0-9, - and _ (e.g. shipping-costs)"
        )
    if not text:
        raise InvalidInput("empty_text", "the reply is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(
            "text_too_long", f"the reply has {len(text)} characters; the limit is {MAX_TEXT_CHARS}"
        )
    return shortcut, text
