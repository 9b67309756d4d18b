"""``bot insights clusters``: the customer turns the bot served badly, grouped into candidate intents."""

from __future__ import annotations

import datetime as dt
import json

import click

from bot.config import Settings


@click.group(help="What the logs say: candidate new intents among the turns the bot served badly.")
def insights() -> None:
    pass


@insights.command("clusters", help="Cluster out-of-scope, low-confidence and thumbs-down customer turns.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only turns from this UTC day on (YYYY-MM-DD).",
)
@click.option("--limit", type=click.IntRange(2, 2000), default=1000, show_default=True, help="Newest turns.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def clusters_command(since: dt.datetime | None, limit: int, as_json: bool) -> None:
    from sqlalchemy.exc import DBAPIError

    from bot.cli import _serving_adapter as serving_adapter
    from bot.db.check import check_database
    from bot.db.session import create_db_engine, create_session_factory
    from bot.insights.clusters import ClassifierEmbedder, discover
    from bot.intents.classifier import load_classifier

    settings = Settings()
    check_database(settings.database_url)
    classifier = load_classifier(serving_adapter(settings), settings.device)
    engine = create_db_engine(settings.database_url)
    try:
        report = discover(
            create_session_factory(engine),
            ClassifierEmbedder(classifier),
            since.date() if since is not None else None,
            limit,
        )
    except DBAPIError as error:
        raise click.ClickException(
            f"cannot read conversations ({error.orig}); is the database migrated? run `bot db upgrade`"
        ) from error
    finally:
        engine.dispose()
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    click.echo(f"{report.turns} unserved turns, {report.clustered} in {len(report.clusters)} clusters")
    for cluster in report.clusters:
        growth = "new" if cluster.growth is None else f"{cluster.growth:+.0%}"
        known = f"looks like {cluster.looks_like}: label them" if cluster.looks_like else "new intent?"
        click.echo(
            f"\n{cluster.name}  ({cluster.size} turns, {cluster.recent} this week, growth {growth}; "
            f"nearest {cluster.nearest_intent} {cluster.similarity}; {known})"
        )
        for turn in cluster.turns:
            if turn.representative:
                click.echo(f"  - {json.dumps(turn.text, ensure_ascii=False)}  [{turn.reason}]")
