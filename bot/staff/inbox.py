"""The live desk's view of a conversation: what the list shows and what the side panel shows.

The list needs, per live conversation, the newest message (not the first), since when the
customer has been waiting for a person, and the newest seq (each console counts unread
messages against the seq it last showed). The side panel needs where the customer chats from
and their earlier conversations, found by the anonymous customer id the widget keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, Message, as_utc
from bot.errors import NotFound
from bot.wire.enums import ConversationStatus, Role

PREVIEW_CHARS = 140
EARLIER_LIMIT = 20


def desk_fields(session: Session, conversations: list[Conversation]) -> dict[str, dict[str, Any]]:
    """Per conversation id: its newest message and since when the customer waits for a person."""
    ids = [c.id for c in conversations]
    if not ids:
        return {}
    latest = _latest_messages(session, ids)
    waiting_since = _waiting_since(session, conversations)
    fields: dict[str, dict[str, Any]] = {}
    for conversation in conversations:
        newest = latest.get(conversation.id)
        context = conversation.customer_context or {}
        fields[conversation.id] = {
            "last_seq": conversation.last_seq,
            "latest": newest,
            "waiting_since": _iso(waiting_since.get(conversation.id)),
            "language": context.get("language"),
            "customer_id": conversation.customer_id,
        }
    return fields


def _latest_messages(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    newest = (
        select(Message.conversation_id, func.max(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.role, Message.text, Message.created_at).join(
            newest, and_(Message.conversation_id == newest.c.conversation_id, Message.seq == newest.c.seq)
        )
    )
    return {
        cid: {"role": role, "text": text[:PREVIEW_CHARS], "created_at": _iso(created)}
        for cid, role, text, created in rows
    }


def _waiting_since(session: Session, conversations: list[Conversation]) -> dict[str, dt.datetime]:
    """When the customer began waiting for a person: the first of their messages since a person
    last wrote; while still waiting for anybody, from the hand-off (the bot's last message).
    Two grouped queries, whatever the number of conversations."""
    waiting = [c.id for c in conversations if c.status == ConversationStatus.WAITING]
    held = [c.id for c in conversations if c.status == ConversationStatus.AGENT]
    since: dict[str, dt.datetime] = {}
    if waiting:
        rows = session.execute(
            select(Message.conversation_id, func.max(Message.created_at))
            .where(Message.conversation_id.in_(waiting), Message.role == Role.BOT)
            .group_by(Message.conversation_id)
        )
        since.update({cid: moment for cid, moment in rows if moment is not None})
    if held:
        last_agent = (
            select(Message.conversation_id, func.max(Message.seq).label("seq"))
            .where(Message.conversation_id.in_(held), Message.role == Role.AGENT)
            .group_by(Message.conversation_id)
            .subquery()
        )
        rows = session.execute(
            select(Message.conversation_id, func.min(Message.created_at))
            .outerjoin(last_agent, last_agent.c.conversation_id == Message.conversation_id)
            .where(
                Message.conversation_id.in_(held),
                Message.role == Role.USER,
                Message.seq > func.coalesce(last_agent.c.seq, 0),
            )
            .group_by(Message.conversation_id)
        )
        since.update({cid: moment for cid, moment in rows if moment is not None})
    return since


def customer_view(factory: sessionmaker[Session], conversation_id: str) -> dict[str, Any]:
    """Where the customer chats from, and their earlier conversations (same anonymous id)."""
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("unknown_conversation", "conversation not found")
        earlier: list[dict[str, Any]] = []
        if conversation.customer_id:
            rows = session.scalars(
                select(Conversation)
                .where(
                    Conversation.customer_id == conversation.customer_id,
                    Conversation.id != conversation.id,
                    Conversation.created_at <= conversation.created_at,
                )
                .order_by(Conversation.created_at.desc())
                .limit(EARLIER_LIMIT)
            ).all()
            firsts = _first_customer_texts(session, [c.id for c in rows])
            earlier = [
                {
                    "id": c.id,
                    "status": c.status,
                    "created_at": _iso(c.created_at),
                    "messages": c.last_seq,
                    "preview": firsts.get(c.id, ""),
                }
                for c in rows
            ]
        return {
            "customer_id": conversation.customer_id,
            "context": conversation.customer_context or {},
            "earlier": earlier,
        }


def _first_customer_texts(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    first = (
        select(Message.conversation_id, func.min(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids), Message.role == "user")
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.text).join(
            first, and_(Message.conversation_id == first.c.conversation_id, Message.seq == first.c.seq)
        )
    )
    return {cid: text[:PREVIEW_CHARS] for cid, text in rows}


def _iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 with the UTC offset: SQLite hands back naive datetimes (stored as UTC), and a
    browser reads a time without an offset as local time."""
    if moment is None:
        return None
    return as_utc(moment).isoformat()
