"""Alembic migrations on SQLite and PostgreSQL: up to heads, down to base, up again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ForeignKeyConstraint, inspect, text

from bot.db.migrate import alembic_config, downgrade, upgrade
from bot.db.models import Base
from bot.db.session import create_db_engine

MODEL_TABLES = set(Base.metadata.tables)


def table_names(database_url: str) -> set[str]:
    engine = create_db_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def applied_revisions(database_url: str) -> set[str]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def test_upgrade_to_heads_creates_every_table_of_the_models(database_url: str) -> None:
    upgrade(database_url, "heads")
    assert table_names(database_url) == MODEL_TABLES | {"alembic_version"}
    assert {"conversations", "messages", "predictions", "feedback", "labels"} <= MODEL_TABLES
    assert applied_revisions(database_url) == head_revisions()


def test_downgrade_to_base_removes_the_tables_and_upgrade_works_again(database_url: str) -> None:
    upgrade(database_url, "heads")
    downgrade(database_url, "base")
    assert table_names(database_url) - {"alembic_version"} == set()
    assert applied_revisions(database_url) == set()
    upgrade(database_url, "heads")
    assert table_names(database_url) == MODEL_TABLES | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    upgrade(database_url, "heads")
    upgrade(database_url, "heads")
    assert applied_revisions(database_url) == head_revisions()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """A model change without a migration (or the reverse) shows up here as a difference."""
    upgrade(database_url, "heads")
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            if connection.dialect.name == "sqlite":
                differences = without_inline_fk_ondelete(differences)
    finally:
        engine.dispose()
    assert differences == []


def without_inline_fk_ondelete(differences: list[Any]) -> list[Any]:
    """Drop the remove/add pairs that differ only in ON DELETE.

    SQLAlchemy does not read ON DELETE from a column-level REFERENCES clause in SQLite (the
    form that ``ALTER TABLE ADD COLUMN`` writes), although SQLite enforces it; PostgreSQL
    reflection is exact, so the ON DELETE rules are still compared there.
    """

    def key(difference: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        if not (isinstance(difference, tuple) and difference[0] in ("add_fk", "remove_fk")):
            return None
        fk: ForeignKeyConstraint = difference[1]
        return (
            str(fk.table.name),
            tuple(column.name for column in fk.columns),
            tuple(element.target_fullname for element in fk.elements),
        )

    removed = {key(d) for d in differences if isinstance(d, tuple) and d[0] == "remove_fk"}
    added = {key(d) for d in differences if isinstance(d, tuple) and d[0] == "add_fk"}
    return [d for d in differences if key(d) is None or key(d) not in removed & added]


def test_revision_graph_has_one_base_and_unique_ids() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = list(scripts.walk_revisions())
    assert len({revision.revision for revision in revisions}) == len(revisions)
    assert [revision.revision for revision in revisions if revision.down_revision is None] == ["0001"]
