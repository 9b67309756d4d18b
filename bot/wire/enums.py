"""The closed vocabularies of a conversation.

``StrEnum`` members are ``str``s: they compare equal to the strings stored in the database and
serialise to them in JSON, so the wire format is unchanged by using them.
"""

from __future__ import annotations

from enum import StrEnum


class ConversationStatus(StrEnum):
    """Who answers the customer: the bot, nobody yet (queued for a person), a person; or closed."""

    BOT = "bot"
    WAITING = "waiting"
    AGENT = "agent"
    CLOSED = "closed"

    @property
    def is_live(self) -> bool:
        """A person is involved: staff consoles follow every message of a live conversation."""
        return self in (ConversationStatus.WAITING, ConversationStatus.AGENT)


class Role(StrEnum):
    """Who wrote a message."""

    USER = "user"  # the customer
    BOT = "bot"
    AGENT = "agent"  # a staff member who took the conversation over


class ReplyAction(StrEnum):
    """What a bot reply does (``bot.chat.policy``)."""

    ANSWER = "answer"  # the intent's reply
    CLARIFY = "clarify"  # asks back, with the top intents as buttons
    KNOWLEDGE = "knowledge"  # an article answers a message outside the known intents
    OFFER_HUMAN = "offer_human"  # nothing fits: a person is offered
    HANDOFF = "handoff"  # the customer asked for a person: the conversation is queued


# Replies to messages the model found outside its intents: the console's "fallback" filter.
FALLBACK_ACTIONS = (ReplyAction.KNOWLEDGE, ReplyAction.OFFER_HUMAN)


class LabelSource(StrEnum):
    """Who set an intent label on a customer message."""

    SUGGESTION_CLICK = "suggestion_click"  # the customer picked a suggestion: a candidate only
    STAFF = "staff"


class Rating(StrEnum):
    """A customer's thumbs on a bot reply."""

    UP = "up"
    DOWN = "down"
