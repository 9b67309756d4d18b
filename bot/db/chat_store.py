"""Reads and writes of the customer chat. Each function is one short transaction.

The writes of a chat turn (``append_customer_message``, ``append_answer``) run on every message,
so they are SQLAlchemy Core statements on the session's connection, not ORM unit-of-work flushes:
under load the ORM's bookkeeping was most of the database layer's CPU. They return plain
(transient) ``Message`` objects built from the values written.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.db.models import Conversation, Feedback, Label, Message, Prediction, as_utc, utcnow
from bot.errors import InvalidInput, NotFound

# The other side of a reply link, for queries that join a message to its reply or its question.
# Built once: an alias per call cost 5% of the server's CPU on the resume path under load.
Reply = aliased(Message)
Answered = aliased(Message)
CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
PREDICTIONS = cast(Table, Prediction.__table__)

# The turn's statements are built once: building one per call (and its cache key) cost more CPU
# than sending it. Parameter names differ from the columns', which UPDATE reserves for SET.
_NEXT_SEQ = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("p_conversation"))
    .values(last_seq=CONVERSATIONS.c.last_seq + 1)
    .returning(CONVERSATIONS.c.last_seq)
)
# A bot reply that served a prediction also names the conversation's adapter, the first time:
# analytics attribute a conversation to it without looking for its first reply. Same UPDATE.
_NEXT_SEQ_WITH_ADAPTER = _NEXT_SEQ.values(
    first_adapter=func.coalesce(CONVERSATIONS.c.first_adapter, bindparam("p_adapter"))
)
_SET_STATUS = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("p_conversation"))
    .values(status=bindparam("p_status"))
)
_STATUS_FOR_UPDATE = (
    select(CONVERSATIONS.c.status).where(CONVERSATIONS.c.id == bindparam("p_conversation")).with_for_update()
)
_INSERT_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)
_INSERT_PREDICTION = insert(PREDICTIONS)
_BY_CLIENT_ID = select(MESSAGES).where(
    MESSAGES.c.conversation_id == bindparam("p_conversation"), MESSAGES.c.client_id == bindparam("p_client")
)
_FIRST_REPLY = (
    select(MESSAGES).where(MESSAGES.c.reply_to_id == bindparam("p_message")).order_by(MESSAGES.c.seq).limit(1)
)
_STORED_PREDICTIONS = select(PREDICTIONS.c.adapter_version, PREDICTIONS.c.shadow).where(
    PREDICTIONS.c.message_id == bindparam("p_message")
)


@dataclass(frozen=True)
class StoredPrediction:
    intent: str
    confidence: float
    top_k: list[dict[str, Any]]
    out_of_scope: bool
    adapter_version: str
    latency_ms: float
    shadow: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_conversation(factory: sessionmaker[Session], token: str | None) -> tuple[Conversation, str]:
    """The conversation of ``token``, or a new one (with a new token) when it is unknown."""
    with factory() as session:
        if token:
            found = session.scalar(select(Conversation).where(Conversation.token_hash == hash_token(token)))
            if found is not None:
                return found, token
        new_token = secrets.token_urlsafe(32)
        conversation = Conversation(id=str(uuid.uuid4()), token_hash=hash_token(new_token))
        session.add(conversation)
        session.commit()
        return conversation, new_token


def token_is_known(factory: sessionmaker[Session], token: str | None) -> bool:
    """Whether ``open_conversation`` would resume a conversation rather than start one."""
    if not token:
        return False
    with factory() as session:
        found = session.scalar(select(Conversation.id).where(Conversation.token_hash == hash_token(token)))
        return found is not None


def get_conversation(factory: sessionmaker[Session], conversation_id: str) -> Conversation:
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("unknown_conversation", "conversation not found")
        return conversation


def messages_after(
    factory: sessionmaker[Session], conversation_id: str, last_seq: int
) -> tuple[list[Message], dict[int, int]]:
    """The messages after ``last_seq`` and, for each reply among them, the seq it answers."""
    with factory() as session:
        rows = session.execute(
            select(Message, Answered.seq)
            .outerjoin(Answered, Message.reply_to_id == Answered.id)
            .where(Message.conversation_id == conversation_id, Message.seq > last_seq)
            .order_by(Message.seq)
        ).all()
        messages = [message for message, _ in rows]
        return messages, {message.id: seq for message, seq in rows if seq is not None}


def _append(connection: Connection, conversation_id: str, **fields: Any) -> Message:
    # One UPDATE both locks the conversation row and hands out the next number, on SQLite and
    # PostgreSQL alike, so concurrent writers can never take the same seq.
    adapter = fields.get("reply_adapter")
    if adapter is None:
        seq = connection.execute(_NEXT_SEQ, {"p_conversation": conversation_id}).scalar_one_or_none()
    else:
        parameters = {"p_conversation": conversation_id, "p_adapter": adapter}
        seq = connection.execute(_NEXT_SEQ_WITH_ADAPTER, parameters).scalar_one_or_none()
    if seq is None:
        # Erased while a socket or a console still had it open.
        raise NotFound("unknown_conversation", "this conversation no longer exists; start a new one")
    values = {
        "client_id": None,
        "reply_to_id": None,
        "payload": {},
        **fields,
        "conversation_id": conversation_id,
        "seq": seq,
        "created_at": utcnow(),
    }
    message_id = connection.execute(_INSERT_MESSAGE, values).scalar_one()
    return Message(id=message_id, **values)


def _message_of(row: Row[Any]) -> Message:
    return Message(**row._mapping)


def append_customer_message(
    session: Session, conversation_id: str, client_id: str, text: str
) -> tuple[Message, bool]:
    """``add_customer_message`` inside the caller's transaction (a group commit's), which the
    caller commits; a racing retry's IntegrityError is left to the caller."""
    existing = _by_client_id(session, conversation_id, client_id)
    if existing is not None:
        return existing, False
    connection = session.connection()
    return _append(connection, conversation_id, role="user", text=text, client_id=client_id), True


def add_customer_message(
    factory: sessionmaker[Session], conversation_id: str, client_id: str, text: str
) -> tuple[Message, bool]:
    """Store a customer message once per ``client_id``; returns (message, newly stored)."""
    with factory() as session:
        try:
            stored = append_customer_message(session, conversation_id, client_id, text)
            session.commit()
            return stored
        except IntegrityError:
            # The same retry arrived on another connection a moment earlier.
            session.rollback()
            existing = _by_client_id(session, conversation_id, client_id)
            if existing is None:
                raise
            return existing, False


def _by_client_id(session: Session, conversation_id: str, client_id: str) -> Message | None:
    parameters = {"p_conversation": conversation_id, "p_client": client_id}
    row = session.connection().execute(_BY_CLIENT_ID, parameters).first()
    return None if row is None else _message_of(row)


def unanswered_turns(factory: sessionmaker[Session], conversation_id: str) -> list[Message]:
    """Customer messages after the last bot or agent message that have neither a reply nor a
    prediction: stored and acknowledged, but the process that was answering them died.

    A turn that a person held has shadow predictions, so it is not taken for an unanswered one.
    """
    last_answer = (
        select(func.coalesce(func.max(Message.seq), 0))
        .where(Message.conversation_id == conversation_id, Message.role != "user")
        .scalar_subquery()
    )
    predicted = select(Prediction.id).where(Prediction.message_id == Message.id).exists()
    replied = select(Reply.id).where(Reply.reply_to_id == Message.id).exists()
    with factory() as session:
        return list(
            session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.role == "user",
                    Message.seq > last_answer,
                    ~predicted,
                    ~replied,
                )
                .order_by(Message.seq)
            )
        )


def reply_state(factory: sessionmaker[Session], message: Message) -> tuple[Message | None, str]:
    """The stored reply to ``message`` (None if there is none yet) and its conversation's status.

    One transaction and one thread hop: this runs on every customer turn, before the model.
    """
    with factory() as session:
        reply = session.scalar(
            select(Message).where(Message.reply_to_id == message.id).order_by(Message.seq).limit(1)
        )
        status = session.scalar(select(Conversation.status).where(Conversation.id == message.conversation_id))
        if status is None:
            raise NotFound("unknown_conversation", "conversation not found")
        return reply, status


def add_bot_reply(
    factory: sessionmaker[Session],
    customer_message: Message,
    text: str,
    payload: dict[str, Any],
    predictions: list[StoredPrediction],
    new_status: str | None = None,
) -> Message:
    """Store the reply, the predictions and any status change in one transaction."""
    with factory() as session:
        message = append_bot_reply(session, customer_message, text, payload, predictions, new_status)
        session.commit()
        return message


def append_bot_reply(
    session: Session,
    customer_message: Message,
    text: str,
    payload: dict[str, Any],
    predictions: list[StoredPrediction],
    new_status: str | None = None,
) -> Message:
    """``add_bot_reply`` inside the caller's transaction, which the caller commits."""
    connection = session.connection()
    if new_status is not None:
        parameters = {"p_conversation": customer_message.conversation_id, "p_status": new_status}
        connection.execute(_SET_STATUS, parameters)
    _insert_predictions(connection, customer_message.id, predictions)
    return _append(
        connection,
        customer_message.conversation_id,
        role="bot",
        text=text,
        reply_to_id=customer_message.id,
        payload=payload,
        **reply_facts(customer_message, payload, predictions),
    )


def reply_facts(
    customer_message: Message, payload: dict[str, Any], predictions: list[StoredPrediction]
) -> dict[str, Any]:
    """The analytics columns of a bot reply (see ``Message.reply_action``): what it did, the
    served prediction behind it (none for a clicked suggestion), how long the turn took, and the
    business action it called, if any."""
    served = next((p for p in predictions if not p.shadow), None)
    intent = payload.get("intent")
    asked_at = as_utc(customer_message.created_at) if customer_message.created_at is not None else None
    form = payload.get("form")
    called = form if isinstance(form, dict) and form.get("outcome") else {}
    latency = called.get("latency_ms")
    return {
        "action_name": called.get("action"),
        "action_outcome": called.get("outcome"),
        "action_ms": round(latency) if isinstance(latency, int | float) else None,
        "reply_action": payload.get("action"),
        "reply_intent": intent.get("name") if isinstance(intent, dict) else None,
        "reply_confidence": served.confidence if served is not None else None,
        "reply_adapter": served.adapter_version if served is not None else None,
        "reply_ms": None if asked_at is None else max(0, round((utcnow() - asked_at).total_seconds() * 1000)),
    }


def _insert_predictions(connection: Connection, message_id: int, predictions: list[StoredPrediction]) -> None:
    if predictions:
        now = utcnow()
        rows = [{**p.__dict__, "message_id": message_id, "created_at": now} for p in predictions]
        connection.execute(_INSERT_PREDICTION, rows)


@dataclass(frozen=True)
class StoredAnswer:
    """``reply`` None: a person holds the conversation (the predictions were kept as shadow).
    ``created`` False: the reply was stored before (a retry, or a second socket).
    ``new_status``: the status the reply moved the conversation to (None: unchanged)."""

    reply: Message | None
    created: bool
    new_status: str | None = None


def append_answer(
    session: Session,
    customer_message: Message,
    text: str,
    payload: dict[str, Any],
    predictions: list[StoredPrediction],
    status_after: Callable[[str], str | None],
) -> StoredAnswer:
    """The whole reply step of a turn inside the caller's transaction (which the caller
    commits): reads the conversation's status and any reply stored before, then stores the
    reply with its predictions and status change or, while a person holds the conversation,
    the predictions as shadow. One transaction instead of a read and then a write.

    ``status_after``: the chat layer's rule, given the status read here, for the status the
    reply moves the conversation to (None: it stays)."""
    connection = session.connection()
    # FOR UPDATE (PostgreSQL; SQLite has one writer anyway): nobody changes the status or
    # answers this message between the look and the write.
    parameters = {"p_conversation": customer_message.conversation_id}
    status = connection.execute(_STATUS_FOR_UPDATE, parameters).scalar_one_or_none()
    if status is None:
        raise NotFound("unknown_conversation", "this conversation no longer exists; start a new one")
    existing = connection.execute(_FIRST_REPLY, {"p_message": customer_message.id}).first()
    if existing is not None:
        return StoredAnswer(_message_of(existing), created=False)
    if status == "agent":
        # A person answers now; keep what the bot would have said, for evaluation.
        stored = {
            (version, shadow)
            for version, shadow in connection.execute(_STORED_PREDICTIONS, {"p_message": customer_message.id})
        }
        shadows = [replace(prediction, shadow=True) for prediction in predictions]
        fresh = [p for p in shadows if (p.adapter_version, p.shadow) not in stored]
        _insert_predictions(connection, customer_message.id, fresh)
        return StoredAnswer(None, created=False)
    new_status = status_after(status)
    reply = append_bot_reply(session, customer_message, text, payload, predictions, new_status)
    return StoredAnswer(reply, created=True, new_status=new_status)


def add_answer(
    factory: sessionmaker[Session],
    customer_message: Message,
    text: str,
    payload: dict[str, Any],
    predictions: list[StoredPrediction],
    status_after: Callable[[str], str | None],
) -> StoredAnswer:
    """``append_answer`` in a transaction of its own."""
    with factory() as session:
        answer = append_answer(session, customer_message, text, payload, predictions, status_after)
        session.commit()
        return answer


def add_predictions(
    factory: sessionmaker[Session], message_id: int, predictions: list[StoredPrediction]
) -> None:
    """Predictions without a reply: what the bot would have said while a person had the chat.

    A retried message must not store the same adapter's prediction twice.
    """
    with factory() as session:
        stored = {
            (version, shadow)
            for version, shadow in session.execute(
                select(Prediction.adapter_version, Prediction.shadow).where(
                    Prediction.message_id == message_id
                )
            )
        }
        for prediction in predictions:
            if (prediction.adapter_version, prediction.shadow) not in stored:
                session.add(Prediction(message_id=message_id, **prediction.__dict__))
        session.commit()


def add_feedback(factory: sessionmaker[Session], conversation_id: str, seq: int, rating: str) -> Feedback:
    with factory() as session:
        message = _message_at(session, conversation_id, seq)
        if message is None or message.role != "bot":
            raise InvalidInput("not_a_bot_message", f"seq {seq} is not a bot message here")
        feedback = Feedback(message_id=message.id, rating=rating)
        session.add(feedback)
        session.commit()
        return feedback


def _message_at(session: Session, conversation_id: str, seq: int) -> Message | None:
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.seq == seq)
    )


def suggestion_at(
    factory: sessionmaker[Session], conversation_id: str, seq: int, index: int
) -> tuple[str, int | None]:
    """The intent behind suggestion ``index`` of bot message ``seq``, and the message it was for."""
    with factory() as session:
        message = _message_at(session, conversation_id, seq)
        suggestions = (message.payload or {}).get("suggestions", []) if message else []
        if message is None or message.role != "bot" or not 0 <= index < len(suggestions):
            raise InvalidInput("unknown_suggestion", f"no suggestion {index} on seq {seq}")
        return str(suggestions[index]["intent"]), message.reply_to_id


def add_label(
    factory: sessionmaker[Session],
    message_id: int,
    intent: str,
    source: str,
    created_by: str | None = None,
) -> Label:
    with factory() as session:
        label = Label(message_id=message_id, intent=intent, source=source, created_by=created_by)
        session.add(label)
        session.commit()
        return label


def set_status(factory: sessionmaker[Session], conversation_id: str, status: str) -> None:
    with factory() as session:
        session.execute(update(Conversation).where(Conversation.id == conversation_id).values(status=status))
        session.commit()
