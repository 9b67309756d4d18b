"""``bot retriever``: train the shop-adapted retriever, gate it, promote it, show what serves."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.config import Settings
from bot.retrieval.articles import load_articles
from bot.retrieval.questions import QUESTIONS_FILE, LabelledQuestion, QuestionSetError, Split, load_questions

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from bot.intents.store import AdapterRef
    from bot.retrieval.metrics import RankedQuestion


@click.group(help="The retriever adapted to the shop's questions (LoRA on the query side).")
def retriever() -> None:
    pass


@retriever.command(
    "train",
    help=(
        "Train a retriever adapter on the tuning half of data/retrieval/questions.csv, compare it "
        "with the serving retriever on a held-out fold of that half, and promote it if it is better."
    ),
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Dataset directory (default: BOT_DATA_DIR).",
)
@click.option(
    "--epochs", type=click.IntRange(1, 50), default=None, help="Passes over the questions (default 3)."
)
@click.option(
    "--promote/--no-promote", default=True, show_default=True, help="Promote it when it passes the gate."
)
@click.option(
    "--extra",
    "extra_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help=(
        "More question -> article pairs to train on (the columns of questions.csv; every row is "
        "used for training, none for the gate), such as citations staff confirmed or corrected."
    ),
)
@click.option(
    "--reviews/--no-reviews",
    default=True,
    show_default=True,
    help=(
        "Also train on the citations staff confirmed or corrected in the console's transcript "
        "view (the newest review of each reply, from BOT_DATABASE_URL)."
    ),
)
def train(
    data_dir: Path | None, epochs: int | None, promote: bool, extra_file: Path | None, reviews: bool
) -> None:
    settings = Settings()
    data = data_dir or settings.data_dir
    try:
        known = {article.id for article in load_articles(data / "knowledge")}
        questions = [q for q in load_questions(data / QUESTIONS_FILE, known) if q.split == Split.TUNE]
        extra = load_questions(extra_file, known) if extra_file is not None else []
    except (QuestionSetError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    reviewed = _reviewed_pairs(settings, known) if reviews else []
    if not questions:
        raise click.ClickException(f"{data / QUESTIONS_FILE} has no tune questions")
    # torch and transformers take seconds to import: only once the input has been checked.
    from bot.retrieval import adapter
    from bot.retrieval.evaluation import all_hits, retriever_rankings
    from bot.retrieval.index import build_index, load_encoder
    from bot.retrieval.metrics import summary

    config = adapter.RetrieverTrainingConfig()
    if epochs is not None:
        config.epochs = epochs
    fit, held = adapter.split_holdout(questions, config.holdout_every)
    fit += extra + reviewed
    encoder = load_encoder(settings.base_model)
    index = build_index(
        data / "knowledge", settings.state_dir, encoder, settings.base_model, shipped_dir=data
    )
    current_ref = adapter.serving_ref(settings.adapter_dir, "production")
    counts = (
        f"training on {len(fit)} questions ({len(extra)} from --extra, {len(reviewed)} reviewed by "
        f"staff), gate on {len(held)} held out"
    )
    click.echo(counts, err=True)
    trained = adapter.train_retriever(encoder, index.entries, fit, settings.base_model, config)

    def ranked(query_encoder: SentenceTransformer) -> list[RankedQuestion]:
        twin = index.copy()
        twin.query_encoder = query_encoder
        return retriever_rankings(held, all_hits(twin, held))

    candidate_rows = ranked(adapter.query_encoder_of(encoder, trained))
    current_rows = ranked(adapter.load_query_encoder(encoder, current_ref) if current_ref else encoder)
    passed = adapter.better(candidate_rows, current_rows)
    current_id = current_ref.id if current_ref else adapter.BASE
    new, old = summary(candidate_rows), summary(current_rows)
    metrics: dict[str, Any] = {
        "holdout": {
            "candidate": new,
            "current": old,
            "current_id": current_id,
        },
        "gate_passed": passed,
    }
    digest = hashlib.sha256((data / QUESTIONS_FILE).read_bytes()).hexdigest()
    ref = adapter.save_retriever(trained, settings.adapter_dir, metrics, digest)
    click.echo(
        f"saved {ref.id} ({trained.train_seconds:.0f}s): held-out recall@1 {new['recall_at_1']:.4f} "
        f"MRR {new['mrr']:.4f} vs {current_id} {old['recall_at_1']:.4f} / {old['mrr']:.4f}"
    )
    promoted = passed and promote
    if promoted:
        adapter.promote(ref, settings.adapter_dir)
        click.echo(f"promoted {ref.id}: running servers switch to it within BOT_ADAPTER_POLL_SECONDS")
    elif not passed:
        click.echo(f"{ref.id} is not better than {current_id}: not promoted")
    _record_in_registry(settings, ref, promoted, metrics)


def _reviewed_pairs(settings: Settings, known: set[str]) -> list[LabelledQuestion]:
    """The staff-reviewed citations as training pairs; none when the database cannot say."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.session import create_db_engine, create_session_factory
    from bot.retrieval.citation_reviews import reviewed_pairs

    engine = create_db_engine(settings.database_url)
    try:
        return reviewed_pairs(create_session_factory(engine), known)
    except SQLAlchemyError as error:
        click.echo(f"no reviewed citations read ({type(error).__name__}): run `bot db upgrade`", err=True)
        return []
    finally:
        engine.dispose()


def _record_in_registry(settings: Settings, ref: AdapterRef, promoted: bool, metrics: dict[str, Any]) -> None:
    """The version (and its promotion) in the adapter registry beside the intent adapters, for
    the history and for running servers (they follow the registry's production retriever); the
    ``production`` file beside the versions is what a first start promotes."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.session import create_db_engine, create_session_factory
    from bot.intents import registry

    engine = create_db_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        registry.register(factory, ref, kind=registry.RETRIEVER)
        if promoted:
            reason = "better than the serving retriever on the held-out fold"
            registry.promote(factory, ref.id, actor="cli", reason=reason, report=metrics)
        click.echo(f"recorded {ref.id} in the adapter registry", err=True)
    except SQLAlchemyError as error:
        click.echo(
            f"not recorded in the adapter registry ({type(error).__name__}): run `bot db upgrade`", err=True
        )
    finally:
        engine.dispose()


@retriever.command("status", help="The promoted retriever adapter and the versions on disk.")
def status() -> None:
    from bot.intents import store
    from bot.retrieval import adapter

    settings = Settings()
    current = adapter.production(settings.adapter_dir)
    click.echo(f"serving: {current.id if current else 'base encoder (no retriever adapter promoted)'}")
    for ref in store.list_versions(settings.adapter_dir, adapter.NAME):
        holdout = store.read_json(ref.path / "metrics.json").get("holdout", {}).get("candidate", {})
        click.echo(f"  {ref.id}: held-out recall@1 {holdout.get('recall_at_1')}, MRR {holdout.get('mrr')}")
