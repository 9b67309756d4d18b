"""analytics: facts of each bot reply as plain columns (action, intent, confidence, adapter, latency)

Revision ID: 0009
Revises: 0005

Existing bot replies are filled in from their payload and their turn's served prediction;
their latency from the two messages' timestamps.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
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


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
