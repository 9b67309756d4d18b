"""What happens in a conversation, announced on the hub for whoever is watching it live."""

from __future__ import annotations

from bot.chat.hub import STAFF_TOPIC, Hub, Inbox, conversation_topic
from bot.db.models import Message
from bot.wire.enums import ConversationStatus, Role
from bot.wire.live import ActivityEvent, CsatEvent, MessageEvent, StatusEvent, TypingEvent
from bot.wire.messages import ChatMessage


def publish_message(
    hub: Hub, message: ChatMessage | Message, origin: Inbox | None = None, live: bool = True
) -> None:
    """To whoever watches the conversation; to all staff too when it is ``live`` (waiting or with
    an agent), so the live queue stays current without every bot turn reaching every console."""
    if isinstance(message, Message):
        message = ChatMessage.of(message)
    conversation_id = message.conversation_id
    event = MessageEvent(conversation_id=conversation_id, message=message)
    hub.publish(conversation_topic(conversation_id), event, origin)
    if live:
        activity = ActivityEvent(conversation_id=conversation_id, seq=message.seq, role=message.role)
        hub.publish(STAFF_TOPIC, activity)


def publish_status(
    hub: Hub,
    conversation_id: str,
    state: str,
    agent_name: str | None = None,
    origin: Inbox | None = None,
) -> None:
    """``state``: a ``ConversationStatus`` (a plain string is checked against it)."""
    status = ConversationStatus(state)
    event = StatusEvent(conversation_id=conversation_id, state=status, agent_name=agent_name)
    hub.publish(conversation_topic(conversation_id), event, origin)
    hub.publish(STAFF_TOPIC, event)


def publish_typing(hub: Hub, conversation_id: str, agent_name: str, origin: Inbox | None = None) -> None:
    event = TypingEvent(conversation_id=conversation_id, agent_name=agent_name)
    hub.publish(conversation_topic(conversation_id), event, origin)


def publish_customer_typing(hub: Hub, conversation_id: str, origin: Inbox | None = None) -> None:
    """To the staff watching the conversation (the customer's own sockets ignore it)."""
    event = TypingEvent(conversation_id=conversation_id, role=Role.USER)
    hub.publish(conversation_topic(conversation_id), event, origin)


def publish_csat(hub: Hub, conversation_id: str, rating: int) -> None:
    event = CsatEvent(conversation_id=conversation_id, rating=rating)
    hub.publish(conversation_topic(conversation_id), event)
    hub.publish(STAFF_TOPIC, event)
