"""analytics: facts of each bot reply as plain columns (action, intent, confidence, adapter,
latency), each conversation's adapter, and an index of the messages that show a hand-off

Revision ID: 0009
Revises: 0008

Existing bot replies are filled in from their payload and their turn's served prediction;
their latency from the two messages' timestamps; conversations from their replies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("reply_action", "reply_intent", "reply_confidence", "reply_adapter", "reply_ms")

_FROM_PAYLOAD = {
    "sqlite": (
        "UPDATE messages SET reply_action = json_extract(payload, '$.action'), "
        "reply_intent = json_extract(payload, '$.intent.name') WHERE role = 'bot'"
    ),
    "postgresql": (
        "UPDATE messages SET reply_action = payload->>'action', "
        "reply_intent = payload->'intent'->>'name' WHERE role = 'bot'"
    ),
}
_FROM_PREDICTION = (
    "UPDATE messages SET "
    "reply_confidence = (SELECT p.confidence FROM predictions p WHERE p.message_id = messages.reply_to_id "
    "AND NOT p.shadow ORDER BY p.id LIMIT 1), "
    "reply_adapter = (SELECT p.adapter_version FROM predictions p WHERE p.message_id = messages.reply_to_id "
    "AND NOT p.shadow ORDER BY p.id LIMIT 1) "
    "WHERE role = 'bot' AND reply_to_id IS NOT NULL"
)
_LATENCY = {
    "sqlite": (
        "UPDATE messages SET reply_ms = (SELECT CAST(ROUND((julianday(messages.created_at) "
        "- julianday(q.created_at)) * 86400000) AS INTEGER) "
        "FROM messages q WHERE q.id = messages.reply_to_id) "
        "WHERE role = 'bot' AND reply_to_id IS NOT NULL"
    ),
    "postgresql": (
        "UPDATE messages SET reply_ms = (SELECT ROUND(EXTRACT(EPOCH FROM messages.created_at - q.created_at) "
        "* 1000)::integer FROM messages q WHERE q.id = messages.reply_to_id) "
        "WHERE role = 'bot' AND reply_to_id IS NOT NULL"
    ),
}


_FIRST_ADAPTER = (
    "UPDATE conversations SET first_adapter = (SELECT m.reply_adapter FROM messages m "
    "WHERE m.conversation_id = conversations.id AND m.role = 'bot' AND m.reply_adapter IS NOT NULL "
    "ORDER BY m.seq LIMIT 1)"
)
PERSON_INVOLVED = "role = 'agent' OR reply_action = 'handoff'"
# PostgreSQL cannot guess how many days or weeks a GROUP BY of these expressions makes (it
# assumed one group per row and gave up on parallel aggregation); with statistics it knows.
UTC_DAY = "CAST((created_at AT TIME ZONE 'UTC') AS DATE)"
UTC_WEEK = "CAST(date_trunc('week', created_at AT TIME ZONE 'UTC') AS DATE)"
BUCKET_STATISTICS = {
    "st_messages_utc_day": ("messages", UTC_DAY),
    "st_messages_utc_week": ("messages", UTC_WEEK),
    "st_conversations_utc_day": ("conversations", UTC_DAY),
    "st_conversations_utc_week": ("conversations", UTC_WEEK),
}


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_action", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("reply_intent", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reply_confidence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reply_adapter", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reply_ms", sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect in _FROM_PAYLOAD:
        op.execute(_FROM_PAYLOAD[dialect])
        op.execute(_FROM_PREDICTION)
        op.execute(_LATENCY[dialect])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("first_adapter", sa.String(length=200), nullable=True))
    if dialect in _FROM_PAYLOAD:
        op.execute(_FIRST_ADAPTER)
    op.create_index(
        "ix_messages_person_involved",
        "messages",
        ["conversation_id"],
        postgresql_where=sa.text(PERSON_INVOLVED),
        sqlite_where=sa.text(PERSON_INVOLVED),
    )
    if dialect == "postgresql":
        for name, (table, expression) in BUCKET_STATISTICS.items():
            op.execute(f"CREATE STATISTICS {name} ON ({expression}) FROM {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in BUCKET_STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    op.drop_index("ix_messages_person_involved", table_name="messages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("first_adapter")
    with op.batch_alter_table("messages") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
