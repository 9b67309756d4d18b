"""What happens in a conversation, announced on the hub for whoever is watching it live."""

from __future__ import annotations

from typing import Any

from bot.chat.hub import STAFF_TOPIC, Event, Hub, Inbox, conversation_topic
from bot.db.models import Message


def message_data(message: Message) -> dict[str, Any]:
    payload = message.payload or {}
    data: dict[str, Any] = {
        "id": message.id,
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
    if message.role == "agent":
        data["agent_name"] = payload.get("agent_name")
    elif message.role == "bot":
        data["action"] = payload.get("action")
        data["intent"] = payload.get("intent")
    return data


def publish_message(hub: Hub, message: Message, origin: Inbox | None = None, live: bool = True) -> None:
    """To whoever watches the conversation; to all staff too when it is ``live`` (waiting or with
    an agent), so the live queue stays current without every bot turn reaching every console."""
    conversation_id = message.conversation_id
    event = Event("message", conversation_id, message_data(message))
    hub.publish(conversation_topic(conversation_id), event, origin)
    if live:
        activity = Event("activity", conversation_id, {"seq": message.seq, "role": message.role})
        hub.publish(STAFF_TOPIC, activity)


def publish_status(
    hub: Hub,
    conversation_id: str,
    state: str,
    agent_name: str | None = None,
    origin: Inbox | None = None,
) -> None:
    event = Event("status", conversation_id, {"state": state, "agent_name": agent_name})
    hub.publish(conversation_topic(conversation_id), event, origin)
    hub.publish(STAFF_TOPIC, event)


def publish_typing(hub: Hub, conversation_id: str, agent_name: str, origin: Inbox | None = None) -> None:
    event = Event("typing", conversation_id, {"role": "agent", "agent_name": agent_name})
    hub.publish(conversation_topic(conversation_id), event, origin)


def publish_csat(hub: Hub, conversation_id: str, rating: int) -> None:
    event = Event("csat", conversation_id, {"rating": rating})
    hub.publish(conversation_topic(conversation_id), event)
    hub.publish(STAFF_TOPIC, event)
