"""``bot rounds ...``: the learning rounds that ran or run, from the console or ``bot retrain``."""

from __future__ import annotations

import json
from typing import Any

import click

from bot.config import Settings


def _settings() -> Settings:
    """The settings, once BOT_DATABASE_URL is known to answer: every command here reads it."""
    from bot.db.check import check_database

    settings = Settings()
    check_database(settings.database_url)
    return settings


@click.group(help="Learning rounds: list them, show one (with its gate report), cancel one.")
def rounds() -> None:
    pass


@rounds.command("list", help="The newest rounds first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_rounds(as_json: bool) -> None:
    from bot.learning import round_jobs

    records = round_jobs.recent(_settings())
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    click.echo(f"{'ROUND':24s} {'STATE':10s} {'PHASE':14s} {'STARTED BY':16s} {'CANDIDATE':16s} GATE")
    for record in records:
        click.echo(
            f"{record['id']:24s} {record['state']:10s} {record['phase']:14s} {record['started_by']:16s} "
            f"{record['candidate'] or '-':16s} {_gate_word(record)}"
        )


@rounds.command("show", help="One round: its state, progress, messages and gate report, as JSON.")
@click.argument("round_id")
def show_round(round_id: str) -> None:
    from bot.learning import round_jobs

    try:
        record = round_jobs.read(_settings(), round_id)
    except round_jobs.UnknownRound as error:
        raise click.ClickException(error.detail) from error
    click.echo(json.dumps(record, indent=2))


@rounds.command("cancel", help="Stop a running round; it stops within seconds and keeps no candidate.")
@click.argument("round_id")
def cancel_round(round_id: str) -> None:
    from bot.errors import Refusal
    from bot.learning import round_jobs
    from bot.learning.cli import _actor

    try:
        round_jobs.request_cancel(_settings(), round_id, _actor())
    except Refusal as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"round {round_id}: cancellation requested")


def _gate_word(record: dict[str, Any]) -> str:
    gate = record.get("gate")
    if not gate:
        return "-"
    return "passed" if gate.get("passed") else "refused"
