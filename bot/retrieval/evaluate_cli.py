"""``bot evaluate --retrieval``: load the models, score the labelled retrieval set, print it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.config import Settings
from bot.intents.store import AdapterRef
from bot.retrieval.articles import load_articles
from bot.retrieval.questions import QUESTIONS_FILE, QuestionSetError, Split, load_questions


def evaluate_retrieval_command(
    settings: Settings, data_dir: Path, ref: AdapterRef, split: str, as_json: bool, report_dir: Path | None
) -> None:
    articles = {article.id for article in load_articles(data_dir / "knowledge")}
    try:
        questions = [
            q for q in load_questions(data_dir / QUESTIONS_FILE, articles) if q.split == Split(split)
        ]
    except QuestionSetError as error:
        raise click.ClickException(str(error)) from error
    if not questions:
        raise click.ClickException(f"{data_dir / QUESTIONS_FILE} has no {split} questions")
    # torch and transformers take seconds to import: only once the input has been checked.
    from bot.chat.policy import Thresholds
    from bot.retrieval.adapter import BASE, serving_ref
    from bot.retrieval.evaluation import evaluate_retrieval
    from bot.services import load_models

    models = load_models(settings.model_copy(update={"data_dir": data_dir}), ref)
    thresholds = Thresholds(
        confidence=settings.confidence_threshold,
        out_of_scope=settings.out_of_scope_threshold or models.classifier.out_of_scope_threshold,
        retrieval=settings.retrieval_threshold,
        suggestions=settings.suggestion_count,
        sources=settings.retrieval_top_k,
    )
    metrics, _, cited = evaluate_retrieval(
        questions, models.index, models.classifier, models.responses, thresholds
    )
    retriever = serving_ref(settings.adapter_dir, settings.retriever_adapter)
    result = {
        "adapter": models.classifier.version,
        "retriever_adapter": retriever.id if retriever else BASE,
        "split": split,
        **metrics,
    }
    if report_dir is not None:
        from bot.retrieval.report import write_report

        title = (
            f"Citations on the {split} half of the retrieval set (intent adapter {result['adapter']}, "
            f"retriever {result['retriever_adapter']})"
        )
        page = write_report(report_dir, result, cited, title)
        click.echo(f"wrote {page} and {report_dir / 'metrics.json'}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{result['questions']} {split} questions, intent adapter {result['adapter']}, "
        f"retriever {result['retriever_adapter']}"
    )
    for key, name in (("retriever", "retriever"), ("citations", "bot cites")):
        row = result[key]
        click.echo(
            f"  {name:10s} recall@1 {row['recall_at_1']:.4f}  "
            f"recall@3 {row['recall_at_3']:.4f}  MRR {row['mrr']:.4f}"
        )
    fit = result["threshold"]
    click.echo(
        f"retrieval threshold {fit['setting']}: first article right for {fit['right_above_setting']:.1%} of "
        f"{fit['questions_above_setting']} questions at or above it; lowest score with "
        f"{fit['target']:.0%} right: {fit['fitted']}"
    )
    for confusion in result["citations"]["confusions"][:10]:
        click.echo(f"  cited {confusion['cited']} for {confusion['expected']} ({confusion['count']}x)")
