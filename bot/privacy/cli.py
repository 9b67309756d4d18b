"""``bot conversations erase``, ``purge`` and ``erasures``: the operator's side of data protection."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings


@contextmanager
def _database() -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    from bot.db.check import check_database
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory

    settings = Settings()
    check_database(settings.database_url)
    upgrade(settings.database_url)  # the erasure tables of migration 0005 must be there
    engine = create_db_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        yield settings, create_session_factory(engine)
    finally:
        engine.dispose()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.command("erase", help="Erase conversations and everything derived from them, for good.")
@click.argument("conversation_ids", nargs=-1)
@click.option("--email", "emails", multiple=True, help="Also every conversation where the customer typed it.")
@click.option(
    "--phone",
    "phones",
    multiple=True,
    help="Also every conversation where the customer typed this number, in any notation "
    "(give national numbers with their country code: +44 20 ...).",
)
@click.option(
    "--rewrite-tables",
    is_flag=True,
    help="PostgreSQL: VACUUM FULL the erased tables, so no copy of the rows stays in their files "
    "(the chat waits while each table is rewritten).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def erase(
    conversation_ids: tuple[str, ...],
    emails: tuple[str, ...],
    phones: tuple[str, ...],
    rewrite_tables: bool,
    yes: bool,
    as_json: bool,
) -> None:
    from bot.privacy import lookup
    from bot.privacy.erasure import erase_conversations

    if not (conversation_ids or emails or phones):
        raise click.UsageError("name conversation ids, --email or --phone")
    with _database() as (settings, factory):
        matches = [m for email in emails for m in lookup.find_by_email(factory, email)]
        matches += [m for phone in phones for m in lookup.find_by_phone(factory, phone)]
        found = {m.id for m in lookup.find_by_ids(factory, list(conversation_ids))}
        for missing in sorted(set(conversation_ids) - found):
            click.echo(f"no conversation {missing}", err=True)
        ids = sorted(found | {m.id for m in matches})
        for match in lookup.find_by_ids(factory, ids):
            click.echo(
                f"{match.id}  started {match.created_at:%Y-%m-%d %H:%M}  {match.messages} messages", err=True
            )
        if ids and not yes:
            click.confirm(f"erase {len(ids)} conversations? this cannot be undone", abort=True, err=True)
        result = erase_conversations(
            factory, ids, actor=_actor(), state_dir=settings.state_dir, rewrite_tables=rewrite_tables
        )
    if as_json:
        click.echo(json.dumps(result.__dict__, indent=2))
        return
    click.echo(
        f"erased {result.conversations} conversations ({result.messages} messages); "
        f"{result.round_folders_removed} round data folders removed"
    )
    if result.adapters_marked:
        click.echo(
            "adapter versions trained on erased turns: "
            + ", ".join(result.adapters_marked)
            + "; `bot retrain` trains a version without them"
        )


@click.command("purge", help="Erase conversations whose last message is older than --older-than days.")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help="Age in days (default: BOT_RETENTION_DAYS).",
)
@click.option(
    "--keep-labelled-redacted/--no-keep-labelled-redacted",
    default=None,
    help="Keep staff-labelled customer turns for training, redacted (default: BOT_RETAIN_LABELLED_REDACTED).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(days: int | None, keep_labelled_redacted: bool | None, yes: bool) -> None:
    import datetime as dt

    from bot.db.models import utcnow
    from bot.privacy.retention import expired_conversations, purge_older_than

    with _database() as (settings, factory):
        days = days or settings.retention_days
        if days is None:
            raise click.UsageError("give --older-than DAYS or set BOT_RETENTION_DAYS")
        keep = settings.retain_labelled_redacted if keep_labelled_redacted is None else keep_labelled_redacted
        now = utcnow()
        count = len(expired_conversations(factory, now - dt.timedelta(days=days)))
        if count and not yes:
            click.confirm(f"erase {count} conversations older than {days} days?", abort=True, err=True)
        result = purge_older_than(
            factory, days, state_dir=settings.state_dir, keep_labelled_redacted=keep, actor=_actor(), now=now
        )
    kept = f"; {result.retained_turns} staff-labelled turns kept redacted" if keep else ""
    click.echo(f"erased {result.conversations} conversations ({result.messages} messages){kept}")


@click.command("erasures", help="The erasure log: who erased how many conversations, and when.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest records shown."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def erasures(limit: int, as_json: bool) -> None:
    from bot.privacy.erasure import erasure_log, erasure_record

    with _database() as (_, factory):
        rows = [erasure_record(row) for row in erasure_log(factory, limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{str(row['at'])[:19]}  {row['actor']:20s} {row['reason']:9s} "
            f"{row['conversations']} conversations, {row['messages']} messages, "
            f"{row['adapters_marked']} adapter versions marked"
        )
