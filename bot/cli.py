"""The ``bot`` command: thin commands over the library. ``bot COMMAND --help`` explains each."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from bot.cli_errors import DEBUG_KEY, BotGroup, SettingError
from bot.config import Settings
from bot.intents.data_cli import data

if TYPE_CHECKING:
    from bot.intents.store import AdapterRef


UVICORN_STARTUP_FAILURE = 3


def _settings() -> Settings:
    return Settings()


@click.group(cls=BotGroup, help="Self-hosted support chatbot: serve, train, evaluate, manage data.")
@click.version_option(package_name="bot", message="bot %(version)s")
@click.option(
    "--debug",
    is_flag=True,
    envvar="BOT_DEBUG",
    help="Show the traceback of an error as well as its one-line message (also BOT_DEBUG=1).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    ctx.meta[DEBUG_KEY] = debug


@main.command(help="Run the chat server (widget and demo page at /, WebSocket at /ws/chat).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on this port (PostgreSQL, with BOT_REDIS_URL for live hand-off between them).",
)
def serve(host: str, port: int, log_level: str, workers: int) -> None:
    from bot.db.check import check_database

    settings = _settings()
    if workers > 1 and settings.sqlalchemy_url.startswith("sqlite"):
        raise SettingError(
            f"--workers {workers} needs PostgreSQL (BOT_DATABASE_URL=postgresql://...): SQLite takes "
            "one server process; see README: Running several processes"
        )
    if workers > 1 and not settings.redis_url:
        raise SettingError(
            f"--workers {workers} needs BOT_REDIS_URL (e.g. redis://127.0.0.1:6379/0): hand-off, the "
            "turn lock and the limits are shared through Redis; see README: Running several processes"
        )
    # Before the seconds of model imports, so that a wrong URL or a busy port is answered at once.
    check_database(settings.database_url)
    _check_listen(host, port)
    settings = _with_demo_shop(settings, host, port)

    if workers > 1:
        from bot.workers import WorkerStartFailed, serve_workers

        try:
            serve_workers(settings, host, port, log_level, workers)
        except WorkerStartFailed as failed:
            raise click.ClickException(str(failed)) from None
        return

    import uvicorn

    from bot.app import create_app
    from bot.http_server import uvicorn_options

    app = create_app(settings)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options(settings))
    except SystemExit as stopped:
        # uvicorn's own exit code for an application that failed to start is 3; ours is 1.
        if stopped.code == UVICORN_STARTUP_FAILURE:
            raise click.ClickException("the server did not start; its log above says why") from None
        raise


def _with_demo_shop(settings: Settings, host: str, port: int) -> Settings:
    """Point the business actions at this server's own demo shop when no backend is set."""
    if not settings.demo_shop or settings.actions_base_url:
        return settings
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    base_url = f"http://{reachable}:{port}/demo/api"
    # Worker processes read their settings from the environment as well.
    os.environ["BOT_ACTIONS_BASE_URL"] = base_url
    return settings.model_copy(update={"actions_base_url": base_url})


def _check_listen(host: str, port: int) -> None:
    """Bind HOST:PORT once and let go: uvicorn would find a busy port only after loading the models,
    and report it among other log lines."""
    import errno
    import socket

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        message = f"{host!r} is not a known address ({error.strerror})"
        raise click.BadParameter(message, param_hint="'--host'") from error
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"cannot listen on {host}:{port}: another program holds the port; stop it or choose "
                    f"another port (bot serve --port {port + 1}, make serve PORT={port + 1})"
                ) from error
            message = f"cannot listen on {host}:{port} ({error.strerror})"
            raise click.BadParameter(message, param_hint="'--host'") from error


@main.command(help="Fine-tune a LoRA adapter on a dataset and save it as a new version.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Dataset directory (default: BOT_DATA_DIR).",
)
@click.option("--name", default=None, help="Adapter family (default: BOT_ADAPTER_NAME).")
@click.option("--epochs", type=int, default=None, help="Passes over the training data.")
@click.option("--batch-size", type=int, default=None, help="Examples per optimiser step.")
@click.option("--device", default=None, help="auto, cpu or cuda (default: BOT_DEVICE).")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option(
    "--cosine-margin",
    type=click.FloatRange(min=0.0, max=1.0),
    default=None,
    help="Cosine margin an example's intent must win by in training "
    "(default: 0.2 on a small dataset, where the median intent has at most 20 examples; else 0).",
)
@click.option(
    "--intent-names/--no-intent-names",
    default=None,
    help="Train on each intent's name as one more example of it, card_arrival as 'card arrival' "
    "(default: on a small dataset only). Turn it off where names are codes, not words.",
)
def train(
    data_dir: Path | None,
    name: str | None,
    epochs: int | None,
    batch_size: int | None,
    device: str | None,
    seed: int | None,
    cosine_margin: float | None,
    intent_names: bool | None,
) -> None:
    from bot.intents.dataset import DatasetError, load_dataset

    settings = _settings()
    data_dir = _dataset_dir(data_dir, settings)
    try:
        dataset = load_dataset(data_dir)
    except DatasetError as error:
        raise click.ClickException(str(error)) from error
    # torch and transformers take seconds to import: only once the input has been checked.
    from bot.intents.train import TrainingConfig
    from bot.intents.training_run import train_and_save

    config = TrainingConfig(
        device=device or settings.device, cosine_margin=cosine_margin, intent_names_as_examples=intent_names
    )
    for field, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed)):
        if value is not None:
            setattr(config, field, value)
    click.echo(
        f"training on {len(dataset.train)} examples, {len(dataset.labels)} intents "
        f"(validation {len(dataset.val)}, test {len(dataset.test)}) from {data_dir}",
        err=True,
    )
    ref, result = train_and_save(
        dataset,
        settings.base_model,
        settings.adapter_dir,
        name or settings.adapter_name,
        config,
        progress=lambda message: click.echo(message, err=True),
    )
    click.echo(
        f"saved {ref.id} at {ref.path}: {result['split']} accuracy {result['accuracy']:.4f}, "
        f"macro-F1 {result['macro_f1']:.4f}, {result['train_seconds']}s",
        err=True,
    )


@main.command(help="Evaluate an adapter on a dataset's test split (default: the active adapter).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Dataset directory (default: BOT_DATA_DIR).",
)
@click.option("--adapter", default=None, help="NAME/VERSION or a version folder (default: the active one).")
@click.option(
    "--split",
    type=click.Choice(["test", "val", "tune"]),
    default="test",
    show_default=True,
    help="Which labelled split to score (tune: the retrieval set's tuning half).",
)
@click.option(
    "--retrieval",
    is_flag=True,
    help="Score article citations on data/retrieval/questions.csv (retriever and what the bot cites).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on standard output.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write report.html (tables and plots) and metrics.json into this directory.",
)
def evaluate(
    data_dir: Path | None,
    adapter: str | None,
    split: str,
    retrieval: bool,
    as_json: bool,
    report_dir: Path | None,
) -> None:
    from bot.intents.dataset import DatasetError, load_dataset
    from bot.intents.store import AdapterError

    settings = _settings()
    if retrieval:
        from bot.retrieval.evaluate_cli import evaluate_retrieval_command

        if split == "val":
            raise click.BadParameter("the retrieval set has the splits tune and test", param_hint="'--split'")
        data = _dataset_dir(data_dir, settings)
        evaluate_retrieval_command(
            settings, data, _adapter_ref(settings, adapter), split, as_json, report_dir
        )
        return
    if split == "tune":
        raise click.BadParameter("the intent dataset has the splits test and val", param_hint="'--split'")
    try:
        dataset = load_dataset(_dataset_dir(data_dir, settings))
    except DatasetError as error:
        raise click.ClickException(str(error)) from error
    examples = dataset.test if split == "test" else dataset.val
    if not examples:
        raise click.ClickException(f"the dataset has no {split} split")
    try:
        ref = _adapter_ref(settings, adapter)
    except AdapterError as error:
        if adapter is None:
            raise click.ClickException(str(error)) from error
        raise click.BadParameter(str(error), param_hint="'--adapter'") from error
    # torch and transformers take seconds to import: only once the input has been checked.
    from bot.intents.classifier import load_classifier
    from bot.intents.evaluate import metrics, score

    try:
        classifier = load_classifier(ref, settings.device)
    except AdapterError as error:
        raise click.ClickException(str(error)) from error
    scored = score(classifier, examples)
    result = {
        "adapter": classifier.version,
        "split": split,
        **metrics(scored, classifier.labels, classifier.out_of_scope_threshold),
    }
    if report_dir is not None:
        from bot.intents.report import write_report

        page = write_report(report_dir, result, scored, f"Adapter {classifier.version} on the {split} split")
        click.echo(f"wrote {page} and {report_dir / 'metrics.json'}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"adapter {result['adapter']} on {split}: "
        f"accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}"
    )
    for intent, row in sorted(result["per_intent"].items(), key=lambda item: item[1]["f1"]):
        click.echo(
            f"  {intent:28s} P {row['precision']:.3f}  R {row['recall']:.3f}  "
            f"F1 {row['f1']:.3f}  n={row['support']}"
        )
    if "out_of_scope" in result:
        oos = result["out_of_scope"]
        click.echo(
            f"out of scope: AUROC {oos['auroc']:.4f}, "
            f"recall {oos['recall']:.4f} at threshold {oos['threshold']:.3f}"
        )


def _dataset_dir(option: Path | None, settings: Settings) -> Path:
    """``--data`` (click has checked it exists), else BOT_DATA_DIR, which must exist too."""
    if option is not None:
        return option
    if not settings.data_dir.is_dir():
        raise SettingError(f"BOT_DATA_DIR: {settings.data_dir} is not a directory; pass --data DIR or set it")
    return settings.data_dir


def _adapter_ref(settings: Settings, adapter: str | None) -> AdapterRef:
    from bot.intents import store

    if adapter is None:
        return _serving_adapter(settings)
    path = Path(adapter)
    if path.is_dir() and (path / store.MANIFEST).is_file():
        return store.AdapterRef(path.parent.name, path.name, path)
    name, _, version = adapter.partition("/")
    return store.resolve(settings.adapter_dir, name, version or None)


def _serving_adapter(settings: Settings) -> AdapterRef:
    """The registry's production version: what `bot serve` answers with after promotions.

    Before the database has a registry (never migrated or served), the configured version.
    """
    from sqlalchemy.exc import DBAPIError

    from bot.db.check import check_database
    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry, store

    check_database(settings.database_url)
    engine = create_db_engine(settings.database_url)
    try:
        production = registry.production(create_session_factory(engine))
    except DBAPIError:
        production = None
    finally:
        engine.dispose()
    if production is not None:
        return registry.ref_of(production)
    return store.resolve(settings.adapter_dir, settings.adapter_name, settings.adapter_version)


@main.group(help="Database schema management.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply all pending migrations to BOT_DATABASE_URL.")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    from bot.db.check import check_database
    from bot.db.migrate import upgrade

    settings = _settings()
    check_database(settings.database_url)
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}", err=True)


@main.group(help="Logged conversations.")
def conversations() -> None:
    pass


@conversations.command("export", help="Write every conversation, one JSON object per line.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="Output format: one JSON object per conversation and line.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="File to write (default: standard output); created readable by its owner only.",
)
@click.option(
    "--redact",
    is_flag=True,
    help="Replace personal data (e-mail, phone, IBAN, card numbers) in messages and comments.",
)
def conversations_export(fmt: str, out: Path | None, redact: bool) -> None:
    from sqlalchemy.exc import DBAPIError

    from bot.db.check import check_database
    from bot.db.export import export_conversations
    from bot.db.session import create_db_engine, create_session_factory

    settings = _settings()
    check_database(settings.database_url)
    engine = create_db_engine(settings.database_url)
    factory = create_session_factory(engine)
    try:
        if out is None:
            count = export_conversations(factory, sys.stdout, redacted=redact)
        else:
            with _private_file(out) as handle:
                count = export_conversations(factory, handle, redacted=redact)
    except DBAPIError as error:
        raise click.ClickException(
            f"cannot read conversations ({error.orig}); is the database migrated? run `bot db upgrade`"
        ) from error
    finally:
        engine.dispose()
    click.echo(f"exported {count} conversations", err=True)


def _register_learning_commands() -> None:
    from bot.learning.cli import adapters, retrain
    from bot.learning.rounds_cli import rounds

    main.add_command(retrain)
    main.add_command(adapters)
    main.add_command(rounds)


_register_learning_commands()


def _private_file(path: Path) -> TextIO:
    """Open ``path`` for writing, created 0600: an export holds what customers typed."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(descriptor, "w", encoding="utf-8")  # noqa: SIM115 - the caller closes it


def _register_privacy_commands() -> None:
    from bot.privacy.cli import erase, erasures, purge

    for command in (erase, purge, erasures):
        conversations.add_command(command)


_register_privacy_commands()


def _register_staff_commands() -> None:
    from bot.staff.cli import labels, users

    main.add_command(users)
    main.add_command(labels)


_register_staff_commands()


def _register_content_commands() -> None:
    from bot.content.cli import content

    main.add_command(content)


_register_content_commands()


def _register_retriever_commands() -> None:
    from bot.retrieval.cli import retriever

    main.add_command(retriever)


_register_retriever_commands()


def _register_insights_commands() -> None:
    from bot.insights.cli import insights

    main.add_command(insights)


_register_insights_commands()

main.add_command(data)

if __name__ == "__main__":
    main()
