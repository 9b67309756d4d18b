"""``bot retrain`` and ``bot adapters ...``: the operator's side of the learning loop."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bot.config import Settings

if TYPE_CHECKING:
    # SQLAlchemy loads in about 0.6 s; `bot --help` and usage errors should not wait for it.
    from sqlalchemy.orm import Session, sessionmaker

    from bot.db.models import AdapterVersion


@contextmanager
def _registry_session() -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    from bot.db.check import check_database
    from bot.db.migrate import upgrade
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry

    settings = Settings()
    check_database(settings.database_url)
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url)
    factory = create_session_factory(engine)
    try:
        registry.sync_from_disk(
            factory, settings.adapter_dir, settings.adapter_name, settings.adapter_version
        )
        yield settings, factory
    finally:
        engine.dispose()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _echo_gate(report: dict[str, Any]) -> None:
    """The gate's decision in words, the intents that changed with their intervals, and every
    fixed and newly broken utterance."""
    held = report["held_out"]
    click.echo(
        f"held-out ({held['examples']}): production {held['production_accuracy']:.4f} -> "
        f"candidate {held['candidate_accuracy']:.4f}"
    )
    changed = [row for row in held.get("intents", []) if row["fixed"] or row["broken"]]
    if changed:
        click.echo(
            f"  {'INTENT':24s} {'N':>3s} {'FIXED':>5s} {'BROKEN':>6s} {'ACCURACY':>13s} "
            f"{'DIFF (INTERVAL)':>24s} {'F1 DIFF (INTERVAL)':>24s} {'P':>8s} {'P HOLM':>8s}  VERDICT"
        )
        for row in changed:
            low, high = row["accuracy_interval"]
            f1_low, f1_high = row["f1_interval"]
            click.echo(
                f"  {row['intent']:24s} {row['examples']:3d} {row['fixed']:5d} {row['broken']:6d} "
                f"{row['production_accuracy']:.2f} -> {row['candidate_accuracy']:.2f} "
                f"{row['accuracy_difference']:+.2f} ({low:+.2f}, {high:+.2f}){'':5s} "
                f"{row['f1_difference']:+.2f} ({f1_low:+.2f}, {f1_high:+.2f}){'':5s} "
                f"{row['p_value']:8.2g} {row['p_holm']:8.2g}  {row['verdict']}"
            )
    for row in held.get("new_intents", []):
        low, high = row["interval"]
        click.echo(
            f"  new intent {row['intent']}: {row['correct']} of {row['examples']} held-out turns "
            f"recognised (interval {low:.2f} to {high:.2f})" + ("" if row["judged"] else ", too few to judge")
        )
    sections = [("held-out", held)] + ([("replay", report["replay"])] if "replay" in report else [])
    for name, section in sections:
        for kind in ("fixed", "broken"):
            for row in section["changes"][kind]:
                click.echo(
                    f"  {name} {kind}: {row['text']!r} label {row['label']}: "
                    f"{row['production']} -> {row['candidate']}"
                )
    for line in report.get("summary", []):
        click.echo(line)
    click.echo("gate: " + ("passed" if report["passed"] else "REFUSED"))


@click.command(help="Build this round's data from reviewed logs, train a candidate and gate it.")
@click.option(
    "--warm-start/--from-base",
    default=None,
    help="Continue from production (default: BOT_RETRAIN_WARM_START).",
)
@click.option("--epochs", type=click.IntRange(1, 50), default=None, help="Passes over the training data.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def retrain(warm_start: bool | None, epochs: int | None, as_json: bool) -> None:
    """One round at a time, whether started here or in the console; it runs in this process at
    the round's lower priority and thread count, and the console follows it like its own."""
    import os

    from bot.learning import round_jobs, round_process
    from bot.learning.progress import RoundProgress

    with _registry_session() as (settings, _):
        try:
            claim = round_jobs.claim(
                settings, _actor(), round_jobs.RoundOptions(epochs, warm_start), pid=os.getpid()
            )
        except round_jobs.RoundBusy as busy:
            raise click.ClickException(busy.detail) from busy
        click.echo(f"round {claim.round_id} (the console's Rounds tab shows it too)", err=True)
        progress = RoundProgress()
        try:
            result = round_process.run_claimed(
                settings, claim, epochs, warm_start, on_message=progress.message, on_step=progress.step
            )
        finally:
            progress.close()
    if result is None:
        record = round_jobs.read(settings, claim.round_id)
        raise click.ClickException(
            f"round {record['state']}" + (f": {record['error']}" if record["error"] else "")
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "candidate": result.ref.id,
                    "metrics": result.metrics,
                    "gate": result.gate.report if result.gate else None,
                },
                indent=2,
            )
        )
        return
    click.echo(f"candidate {result.ref.id}: accuracy {result.metrics['accuracy']:.4f}")
    if result.gate is not None:
        _echo_gate(result.gate.report)
        click.echo(f"promote with: bot adapters promote {result.ref.id}")


@click.group(help="Adapter versions: list, inspect, promote, roll back, shadow, discard.")
def adapters() -> None:
    pass


@adapters.command("list", help="Every registered version and its state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_adapters(as_json: bool) -> None:
    from bot.intents import registry

    with _registry_session() as (_, factory):
        rows = [registry.version_record(row) for row in registry.all_versions(factory)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'VERSION':24s} {'STATE':11s} {'SHADOW':6s} {'ACCURACY':8s}  {'PARENT':20s} CREATED")
    for row in rows:
        accuracy = f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "-"
        # Turns that customers had erased after this version learnt from them: retrain without them.
        erased = f"  trained on {row['erased_turns']} erased turns" if row["erased_turns"] else ""
        click.echo(
            f"{row['id']:24s} {row['state']:11s} {'yes' if row['shadow'] else '':6s} {accuracy:8s}  "
            f"{row['parent'] or '-':20s} {row['created_at'][:19]}{erased}"
        )


@adapters.command("show", help="One version: metrics, files and its history of promotions.")
@click.argument("version")
def show_adapter(version: str) -> None:
    from bot.intents import registry

    with _registry_session() as (_, factory):
        row = _get(factory, version)
        history = [registry.event_record(e) for e in registry.events(factory, row.id)]
        record = {**registry.version_record(row), "metrics": row.metrics, "history": history}
        click.echo(json.dumps(record, indent=2))


@adapters.command("promote", help="Serve VERSION after the promotion gate passes.")
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even if the gate refuses (needs --reason).")
@click.option("--reason", default="", help="Why; recorded with the promotion.")
def promote_adapter(version: str, force: bool, reason: str) -> None:
    from bot.intents.registry import RegistryError
    from bot.learning.retrain import GateRefused, promote

    with _registry_session() as (settings, factory):
        adapter_id = _get(factory, version).id
        try:
            result, _ = promote(factory, settings, adapter_id, actor=_actor(), reason=reason, force=force)
        except GateRefused as refused:
            _echo_gate(refused.result.report)
            message = f"promotion refused: {refused}; use --force --reason to override"
            raise click.ClickException(message) from refused
        except RegistryError as error:
            raise click.ClickException(str(error)) from error
    _echo_gate(result.report)
    click.echo(f"{adapter_id} is now in production" + (" (forced)" if force and not result.passed else ""))


@adapters.command("rollback", help="Serve the previous production version again.")
@click.option("--reason", default="rollback", help="Why; recorded with the rollback.")
def rollback_adapter(reason: str) -> None:
    from bot.intents import registry

    with _registry_session() as (_, factory):
        try:
            row = registry.rollback(factory, actor=_actor(), reason=reason)
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"{row.id} is now in production")


@adapters.command("shadow", help="Let a candidate classify live traffic beside production, never answering.")
@click.argument("version")
@click.option("--off", is_flag=True, help="Take it out of shadow mode.")
def shadow_adapter(version: str, off: bool) -> None:
    from bot.intents import registry

    with _registry_session() as (_, factory):
        try:
            row = registry.set_shadow(factory, _get(factory, version).id, not off, actor=_actor())
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"{row.id} shadow mode {'on' if row.shadow else 'off'}")


@adapters.command("discard", help="Retire a candidate: never served, out of shadow mode, files kept.")
@click.argument("version")
@click.option("--reason", default="", help="Why; recorded with the decision.")
def discard_adapter(version: str, reason: str) -> None:
    from bot.intents import registry

    with _registry_session() as (_, factory):
        try:
            row = registry.discard(factory, _get(factory, version).id, actor=_actor(), reason=reason)
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"{row.id} discarded")


def _get(factory: sessionmaker[Session], version: str) -> AdapterVersion:
    """Accept ``name/vN`` or just ``vN`` (of the configured adapter family)."""
    from bot.intents import registry

    adapter_id = version if "/" in version else f"{Settings().adapter_name}/{version}"
    try:
        return registry.get(factory, adapter_id)
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from error
