"""``bot content``: responses and articles between the database and files in git.

``export DIR`` writes ``DIR/responses.yml`` and ``DIR/knowledge/<id>.md`` (the format of
``data/``); ``import DIR`` checks every file first and writes nothing while any problem is left,
then makes the stored content equal the folder in one transaction, with history.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.content.files import ContentFileError, read_content_dir, write_content_dir
from bot.content.store import ImportSummary, content_revision, import_content, load_snapshot

# Changed items listed one per line; a first import of a whole folder is summed up.
LISTED = 20


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    from bot.db.check import check_database
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory

    settings = Settings()
    check_database(settings.database_url)
    engine = None
    try:
        if settings.auto_migrate:
            upgrade(settings.database_url)
        engine = create_db_engine(settings.database_url)
        yield create_session_factory(engine)
    except DBAPIError as error:
        raise click.ClickException(f"database error: {' '.join(str(error.orig).split())}") from error
    finally:
        if engine is not None:
            engine.dispose()


@click.group(help="Replies and knowledge-base articles: export to files and import them back.")
def content() -> None:
    pass


@content.command("export", help="Write the stored responses and articles into DIR (the format of data/).")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def export_command(folder: Path) -> None:
    with _database() as factory:
        snapshot = load_snapshot(factory)
    if snapshot.revision == 0:
        raise click.ClickException(
            "the database holds no content yet: start the server once (it seeds data/) "
            "or run `bot content import`"
        )
    removed = write_content_dir(snapshot.content, folder)
    for path in removed:
        click.echo(f"removed {path} (no such article any more)", err=True)
    click.echo(
        f"exported {len(snapshot.content.responses)} responses and {len(snapshot.content.articles)} "
        f"articles (content revision {snapshot.revision}) to {folder}",
        err=True,
    )


@content.command("import", help="Replace the stored responses and articles with those in DIR, with history.")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the files and show what would change; write nothing.")
@click.option(
    "--actor",
    default=None,
    help="Name recorded in the history as the editor (default: cli:<your login name>).",
)
def import_command(folder: Path, dry_run: bool, actor: str | None) -> None:
    try:
        files = read_content_dir(folder)
    except ContentFileError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(
            f"{len(error.problems)} problem(s) in {folder}; nothing was imported"
        ) from None
    with _database() as factory:
        summary = import_content(factory, files, actor or f"cli:{getpass.getuser()}", dry_run=dry_run)
        revision = content_revision(factory)
    _report(summary, dry_run, revision)


def _report(summary: ImportSummary, dry_run: bool, revision: int) -> None:
    for label, items in (
        ("created", summary.created),
        ("updated", summary.updated),
        ("deleted", summary.deleted),
    ):
        for item in items[:LISTED]:
            click.echo(f"{label}: {item}", err=True)
        if len(items) > LISTED:
            click.echo(f"{label}: ... and {len(items) - LISTED} more", err=True)
    counts = (
        f"{len(summary.created)} created, {len(summary.updated)} updated, "
        f"{len(summary.deleted)} deleted, {summary.unchanged} unchanged"
    )
    if dry_run:
        click.echo(f"dry run: {counts}; nothing was written", err=True)
    elif summary.changed:
        click.echo(
            f"imported: {counts} (content revision {revision}); servers serve it within seconds", err=True
        )
    else:
        click.echo(f"nothing to import: {counts}", err=True)
