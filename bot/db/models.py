"""SQLAlchemy 2.0 models: conversation turns, model predictions, and what people said about them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A timestamp read back from the database, with its zone: SQLite hands back naive ones
    even for timezone-aware columns (it keeps no zone); every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def utc_midnight(day: dt.date) -> dt.datetime:
    """The start of a UTC calendar day."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Only a hash of the customer's resume token is kept: a database leak must not hand out chats.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="bot", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Staff review: who marked the conversation reviewed, and the staff member who has taken it
    # over (set only while status is "agent").
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    # The adapter version of the first bot reply that served a prediction: analytics count the
    # conversation for it (written with that reply, see ``chat_store._append``).
    first_adapter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The widget's anonymous random id for the browser (localStorage), so staff see earlier
    # conversations from the same browser; and where the customer chats from (page without its
    # query string, referrer, browser, language). Personal data: erased with the conversation.
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_context: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.seq", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
        # The few messages that show a person was asked for or stepped in (analytics: hand-off).
        Index(
            "ix_messages_person_involved",
            "conversation_id",
            postgresql_where=text("role = 'agent' OR reply_action = 'handoff'"),
            sqlite_where=text("role = 'agent' OR reply_action = 'handoff'"),
        ),
        # The few replies that called a business action (analytics: the actions' report).
        Index(
            "ix_messages_action_calls",
            "created_at",
            postgresql_where=text("action_name IS NOT NULL"),
            sqlite_where=text("action_name IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # What the customer saw with a bot reply: intent, suggestions (with their intents), sources.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # Facts about a bot reply, copied from its payload and its turn's served prediction when it
    # is written, so that analytics read plain columns of one table (a million messages answer
    # in milliseconds; JSON and a join with predictions did not). Null on other roles.
    reply_action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reply_intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reply_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    reply_adapter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Milliseconds from the customer's message being stored to this reply being stored.
    reply_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A business action's call behind this reply (``bot/chat/form_turn.py``): which action, how
    # it ended (ok, not_found, failed, circuit_open, ...) and how long it took.
    action_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )
    feedback: Mapped[list[Feedback]] = relationship(back_populates="message", cascade="all, delete-orphan")
    labels: Mapped[list[Label]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Label.id"
    )
    citation_reviews: Mapped[list[CitationReview]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="CitationReview.id"
    )


class Prediction(Base):
    """What an adapter said about a customer message; shadow predictions were never shown."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    intent: Mapped[str] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    top_k: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    out_of_scope: Mapped[bool] = mapped_column(default=False)
    adapter_version: Mapped[str] = mapped_column(String(200))
    latency_ms: Mapped[float] = mapped_column(Float)
    shadow: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="predictions")


class Feedback(Base):
    """A customer's thumbs up/down on a bot message; the newest row is the current rating."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="feedback")


class Label(Base):
    """An intent label for a customer message. Labels are appended, never edited: the newest wins.

    ``source`` says who set it: ``suggestion_click`` (the customer picked a suggestion, a
    candidate only) or ``staff``.
    """

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_message_created", "message_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    intent: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="labels")


class CitationReview(Base):
    """Staff's word on which article a bot reply should have cited: the cited one (confirmed)
    or another (corrected). Appended, never edited: the newest wins. With the customer message
    the reply answers, it is a question -> article pair for the shop-adapted retriever."""

    __tablename__ = "citation_reviews"
    __table_args__ = (Index("ix_citation_reviews_message_created", "message_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    article_id: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="citation_reviews")


class AdapterVersion(Base):
    """An adapter version known to the registry; at most one is in state ``production``.

    ``state``: candidate (trained, not serving), production (serving), retired (served
    before). ``shadow`` marks a candidate that also classifies live traffic without answering.
    """

    __tablename__ = "adapter_versions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    # intent: the intent model's adapter; retriever: the shop-adapted retriever's (each kind has
    # its own production version).
    kind: Mapped[str] = mapped_column(String(16), default="intent", server_default="intent", index=True)
    shadow: Mapped[bool] = mapped_column(default=False)
    parent: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Logged turns this version learnt from that a customer's erasure has since removed (itself or
    # through the version it was warm-started from), and when the first such erasure happened.
    erased_turns: Mapped[int] = mapped_column(Integer, default=0)
    erased_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class AdapterEvent(Base):
    """Who promoted, rolled back, forced or shadowed which version, when and why."""

    __tablename__ = "adapter_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adapter_id: Mapped[str] = mapped_column(ForeignKey("adapter_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    previous_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    forced: Mapped[bool] = mapped_column(default=False)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffUser(Base):
    """A support staff account. ``role`` is agent, operator or admin (each includes the ones before)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A logged-in browser. Only a hash of the cookie value is kept, like customer tokens."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

    user: Mapped[StaffUser] = relationship()


class IntentProposal(Base):
    """A new intent name proposed by staff; an operator approves or rejects it."""

    __tablename__ = "intent_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    proposed_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class CsatRating(Base):
    """A customer's 1-5 rating of a whole conversation; the newest one per conversation counts."""

    __tablename__ = "csat_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ResponseRow(Base):
    """An intent's canned answer as operators edit it; the chat serves a snapshot of these rows.

    ``related_articles`` false never links an article (small talk); ``articles`` names the
    knowledge-base articles that belong to the intent. ``version`` counts this row's changes.
    """

    __tablename__ = "responses"

    intent: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    replies: Mapped[list[str]] = mapped_column(JSON, default=list)
    handoff: Mapped[bool] = mapped_column(default=False)
    related_articles: Mapped[bool] = mapped_column(default=True)
    articles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The business action (``ActionRow.name``) that answering this intent runs, if any.
    action: Mapped[str | None] = mapped_column(String(63), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ArticleRow(Base):
    """A knowledge-base article: ``id`` is its slug (the file name in ``data/knowledge``)."""

    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContentChange(Base):
    """Who changed which response or article, when, and what it said afterwards.

    ``kind`` is response or article, ``key`` the intent or article id, ``data`` the full
    content after the change (null after a delete), ``revision`` the content revision it made.
    """

    __tablename__ = "content_changes"
    __table_args__ = (Index("ix_content_changes_kind_key", "kind", "key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContentState(Base):
    """One row: the content revision, raised by every change so that each process can tell
    its in-memory snapshot is out of date by reading one integer."""

    __tablename__ = "content_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AdapterTrainingTurn(Base):
    """A logged customer turn (by message id, not text) that went into a version's round data.

    No foreign key to ``messages``: the row must outlive the message, so that erasing it can
    mark the versions that learnt from it. Erasure removes these rows after marking, because
    a deleted message's id can be handed out again.
    """

    __tablename__ = "adapter_training_turns"

    adapter_id: Mapped[str] = mapped_column(
        ForeignKey("adapter_versions.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class ErasureRecord(Base):
    """Who erased how many conversations and when; never ids or content."""

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(32))  # request (a customer asked) or retention
    conversations: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    adapters_marked: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class RetainedTrainingTurn(Base):
    """A staff-labelled customer turn kept, redacted, after retention purged its conversation."""

    __tablename__ = "retained_training_turns"

    # The purged message's id: adapters trained on it stay traceable (see AdapterTrainingTurn).
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(100))
    labelled_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    labelled_at: Mapped[dt.datetime] = mapped_column()


class MaintenanceLease(Base):
    """A periodic job (the retention purge) that one server process at a time runs."""

    __tablename__ = "maintenance_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
    held_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class ConversationNote(Base):
    """A private note staff write on a conversation; the customer never sees it."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CannedReply(Base):
    """A prepared answer agents insert with ``/shortcut`` in the composer; operators manage them."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(50), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActionRow(Base):
    """A business action's definition (``bot/actions/definitions.py``) as operators edit it:
    content like responses, with history in ``content_changes`` (kind ``action``)."""

    __tablename__ = "actions"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DialogueState(Base):
    """A conversation's open form: the action collecting slots, the values so far and the
    question last asked. Deleted when the form ends; values of personal slots live only here
    and only while it is open (everything kept longer shows them redacted)."""

    __tablename__ = "dialogue_states"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(63))
    intent: Mapped[str] = mapped_column(String(100))
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    asking: Mapped[str | None] = mapped_column(String(63), nullable=True)
    wrong_answers: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


# ------------------------------------------------------------------ analytics roll-ups --
# Daily sums of the analytics figures for closed UTC days (``bot/insights/rollup.py``), so a
# 90-day request reads a few hundred rows instead of scanning a million messages. Triggers
# (migration 0012) count every later write that touches a closed day's figures in
# ``analytics_days.changes``; a day's sums are used only while ``built_changes`` still equals it.


class AnalyticsDay(Base):
    """One UTC day: how often its figures changed, and at which count its sums were built."""

    __tablename__ = "analytics_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    built_changes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The ``now`` the sums were built for: every conversation of the day was decided by then.
    built_for: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class AnalyticsConversationDay(Base):
    """The day's conversations (by start) per adapter version ('' for none)."""

    __tablename__ = "analytics_conversation_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer)
    handed_off: Mapped[int] = mapped_column(Integer)
    decided: Mapped[int] = mapped_column(Integer)
    contained: Mapped[int] = mapped_column(Integer)
    csat_1: Mapped[int] = mapped_column(Integer)
    csat_2: Mapped[int] = mapped_column(Integer)
    csat_3: Mapped[int] = mapped_column(Integer)
    csat_4: Mapped[int] = mapped_column(Integer)
    csat_5: Mapped[int] = mapped_column(Integer)


class AnalyticsTurnDay(Base):
    """The day's bot replies per adapter version, action and intent ('' for none)."""

    __tablename__ = "analytics_turn_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(200), primary_key=True)
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    intent: Mapped[str] = mapped_column(String(100), primary_key=True)
    turns: Mapped[int] = mapped_column(Integer)
    suggestion_clicks: Mapped[int] = mapped_column(Integer)
    thumbs_up: Mapped[int] = mapped_column(Integer)
    thumbs_down: Mapped[int] = mapped_column(Integer)
    confidence_sum: Mapped[float] = mapped_column(Float)
    confidence_0: Mapped[int] = mapped_column(Integer)
    confidence_1: Mapped[int] = mapped_column(Integer)
    confidence_2: Mapped[int] = mapped_column(Integer)
    confidence_3: Mapped[int] = mapped_column(Integer)
    confidence_4: Mapped[int] = mapped_column(Integer)
    confidence_5: Mapped[int] = mapped_column(Integer)
    confidence_6: Mapped[int] = mapped_column(Integer)
    confidence_7: Mapped[int] = mapped_column(Integer)
    confidence_8: Mapped[int] = mapped_column(Integer)
    confidence_9: Mapped[int] = mapped_column(Integer)


class AnalyticsLatencyDay(Base):
    """How many of the day's bot replies per adapter version took each whole millisecond."""

    __tablename__ = "analytics_latency_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(200), primary_key=True)
    ms: Mapped[int] = mapped_column(Integer, primary_key=True)
    replies: Mapped[int] = mapped_column(Integer)
