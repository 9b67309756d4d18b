"""Alembic environment: the URL comes from the caller (bot.db.migrate) or BOT_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from bot.config import Settings
from bot.db.models import Base
from bot.db.session import create_db_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
