"""``bot users`` (staff accounts) and ``bot labels`` (label turns from scripts).

Passwords are read from a hidden prompt or, with ``--password-stdin``, the first line of
standard input; they are never taken as an argument (which would land in shell history) and
never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bot.config import Settings
from bot.staff.roles import ROLES

if TYPE_CHECKING:
    # SQLAlchemy loads in about 0.6 s; `bot --help` and usage errors should not wait for it.
    from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    from bot.db.check import check_database
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory

    settings = Settings()
    check_database(settings.database_url)
    if settings.auto_migrate:
        upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    try:
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)


@click.group(help="Staff accounts for the console (roles: agent < operator < admin).")
def users() -> None:
    pass


@users.command("create", help="Create a staff account; asks for its password.")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="agent",
    show_default=True,
    help=(
        "agent: review, label, chat; operator: also decide on new intents and adapters; "
        "admin: also manage accounts."
    ),
)
@click.option(
    "--display-name", default=None, help="Name customers see on agent messages (default: USERNAME)."
)
@PASSWORD_STDIN
def create(username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    from bot.errors import Refusal
    from bot.staff.accounts import create_user

    password = _read_password(password_stdin)
    with _database() as factory:
        try:
            user = create_user(factory, username, password, role, display_name)
        except Refusal as error:
            raise click.ClickException(error.detail) from error
    click.echo(f"created {user.role} {user.username}", err=True)


@users.command("set-password", help="Set a new password; ends the account's sessions.")
@click.argument("username")
@PASSWORD_STDIN
def set_password_command(username: str, password_stdin: bool) -> None:
    from bot.errors import Refusal
    from bot.staff.accounts import set_password

    password = _read_password(password_stdin)
    with _database() as factory:
        try:
            set_password(factory, username, password)
        except Refusal as error:
            raise click.ClickException(error.detail) from error
    click.echo(f"password of {username} changed; its sessions ended", err=True)


@users.command("disable", help="Disable an account: it can no longer log in and its sessions end.")
@click.argument("username")
def disable(username: str) -> None:
    _set_active(username, False)
    click.echo(f"{username} disabled", err=True)


@users.command("enable", help="Allow a disabled account to log in again.")
@click.argument("username")
def enable(username: str) -> None:
    _set_active(username, True)
    click.echo(f"{username} enabled", err=True)


def _set_active(username: str, active: bool) -> None:
    from bot.errors import Refusal
    from bot.staff.accounts import set_active

    with _database() as factory:
        try:
            set_active(factory, username, active)
        except Refusal as error:
            raise click.ClickException(error.detail) from error


@users.command("list", help="List staff accounts.")
def list_command() -> None:
    from bot.staff.accounts import list_users

    with _database() as factory:
        for user in list_users(factory):
            state = "active" if user.active else "disabled"
            click.echo(f"{user.username}\t{user.role}\t{state}\t{user.display_name}")


@click.group(help="Intent labels on customer messages (the staff console's labelling, for scripts).")
def labels() -> None:
    pass


@labels.command("set", help="Label customer message MESSAGE_ID (ids as in `bot conversations export`).")
@click.argument("message_id", type=int)
@click.argument("intent")
@click.option("--by", "username", required=True, help="The active staff account the label is recorded for.")
@click.option(
    "--propose", is_flag=True, help="INTENT is a new intent name: file it for an operator to approve."
)
def set_label(message_id: int, intent: str, username: str, propose: bool) -> None:
    from bot.errors import Refusal
    from bot.staff.accounts import find_user
    from bot.staff.labels import add_staff_label

    with _database() as factory:
        user = find_user(factory, username)
        if user is None or not user.active:
            raise click.ClickException(f"no active staff account named {username!r}")
        try:
            label = add_staff_label(factory, message_id, intent, _served_intents(), user.username, propose)
        except Refusal as error:
            raise click.ClickException(error.detail) from error
    click.echo(f"message {message_id} labelled {label.intent} by {label.created_by}", err=True)


def _served_intents() -> list[str]:
    """The served adapter's label set, read from its files without loading the model."""
    from bot.intents import store

    settings = Settings()
    try:
        ref = store.resolve(settings.adapter_dir, settings.adapter_name, settings.adapter_version)
    except store.AdapterError as error:
        raise click.ClickException(str(error)) from error
    return list(store.read_json(ref.path / "labels.json"))
