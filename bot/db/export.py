"""Conversation export: one JSON object per conversation, messages with predictions and feedback."""

from __future__ import annotations

import json
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.db.models import Conversation, Message

BATCH = 200


def export_conversations(factory: sessionmaker[Session], out: TextIO) -> int:
    """Stream conversations in creation order, a page at a time so memory stays flat."""
    count, offset = 0, 0
    with factory() as session:
        while True:
            page = session.scalars(
                select(Conversation)
                .order_by(Conversation.created_at, Conversation.id)
                .offset(offset)
                .limit(BATCH)
                .options(
                    selectinload(Conversation.messages).selectinload(Message.predictions),
                    selectinload(Conversation.messages).selectinload(Message.feedback),
                    selectinload(Conversation.messages).selectinload(Message.labels),
                )
            ).all()
            if not page:
                return count
            for conversation in page:
                out.write(json.dumps(conversation_record(conversation), ensure_ascii=False) + "\n")
                count += 1
            offset += BATCH
            session.expunge_all()


def conversation_record(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "status": conversation.status,
        "created_at": conversation.created_at.isoformat(),
        "messages": [message_record(message) for message in conversation.messages],
    }


def message_record(message: Message) -> dict[str, Any]:
    payload = message.payload or {}
    return {
        "id": message.id,
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "client_id": message.client_id,
        "reply_to_id": message.reply_to_id,
        "created_at": message.created_at.isoformat(),
        "intent": payload.get("intent"),
        "action": payload.get("action"),
        "suggestions": payload.get("suggestions", []),
        "sources": payload.get("sources", []),
        "agent_name": payload.get("agent_name"),
        "predictions": [
            {
                "intent": p.intent,
                "confidence": p.confidence,
                "top_k": p.top_k,
                "out_of_scope": p.out_of_scope,
                "adapter_version": p.adapter_version,
                "latency_ms": p.latency_ms,
                "shadow": p.shadow,
            }
            for p in message.predictions
        ],
        "feedback": [{"rating": f.rating, "created_at": f.created_at.isoformat()} for f in message.feedback],
        "labels": [
            {
                "intent": label.intent,
                "source": label.source,
                "created_by": label.created_by,
                "created_at": label.created_at.isoformat(),
            }
            for label in message.labels
        ],
    }
