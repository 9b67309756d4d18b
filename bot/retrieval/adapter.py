"""A retriever adapted to the shop: LoRA on the query side of the sentence encoder.

The intent model's idea applied a second time. A LoRA adapter in the same upper layers as the
intent adapter's (the top ``trainable_layers``, today 3-5 of MiniLM's six) is trained on
question -> article pairs with an in-batch contrastive loss - every article of the knowledge
base is a candidate, the article(s) labelled for the question the positives (the
MultipleNegativesRankingLoss objective, with all articles as negatives instead of the batch's).

Only the queries are embedded with the adapter; articles keep their base embeddings, so the
shipped index (``data/kb_index.npz``) and every cached vector stay valid, an article edit
re-embeds with the base encoder as before, and the frozen lower layers stay shared with the
intent model (``bot/chat/shared_pass.py`` runs them once per message).

Versions live in ``<adapter_dir>/retriever/vN``; ``<adapter_dir>/retriever/production`` names
the one that serves. A candidate is promoted only when it beats the serving retriever (or the
base encoder) on a held-out fold of the tuning half; without any, the base encoder serves.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer

from bot.intents import store
from bot.intents.layer_cache import layer_count
from bot.intents.model import peft_wrapping
from bot.retrieval.index import Entries
from bot.retrieval.metrics import RankedQuestion, summary
from bot.retrieval.questions import LabelledQuestion

log = logging.getLogger(__name__)

NAME = "retriever"
PRODUCTION_FILE = "production"
BASE = "base"  # the setting's value that never adapts


@dataclass
class RetrieverTrainingConfig:
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-3
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])
    # The intent adapter's: the same upper layers, so the lower ones stay shared.
    trainable_layers: int = 3
    # Cosine similarities are multiplied by this before the softmax over articles.
    scale: float = 20.0
    seed: int = 0
    # Every n-th question of each article (tuning half) is held out for the gate.
    holdout_every: int = 4


@dataclass(frozen=True)
class TrainedRetriever:
    peft_model: Any
    config: RetrieverTrainingConfig
    base_model: str
    train_seconds: float
    questions: int


def split_holdout(
    questions: Sequence[LabelledQuestion], every: int
) -> tuple[list[LabelledQuestion], list[LabelledQuestion]]:
    """(train, held out): every ``every``-th question of each first article is held out, so
    that both parts cover the articles."""
    seen: dict[str, int] = {}
    train: list[LabelledQuestion] = []
    held: list[LabelledQuestion] = []
    for question in questions:
        position = seen.get(question.primary, 0)
        seen[question.primary] = position + 1
        (held if position % every == every - 1 else train).append(question)
    return train, held


def train_retriever(
    encoder: SentenceTransformer,
    entries: Entries,
    questions: Sequence[LabelledQuestion],
    base_model: str,
    config: RetrieverTrainingConfig,
) -> TrainedRetriever:
    """A LoRA adapter on a copy of ``encoder``'s transformer, trained so that each question's
    embedding is closest to its articles' (base) chunk embeddings."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    base: Any = copy.deepcopy(encoder.transformers_model)
    depth = layer_count(base)
    first = max(0, depth - config.trainable_layers) if config.trainable_layers > 0 else 0
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        layers_to_transform=list(range(first, depth)),
        layers_pattern="layer",
        bias="none",
    )
    with peft_wrapping():
        model = get_peft_model(base, lora)
    articles = sorted({chunk.article_id for chunk in entries.chunks})
    column = {article: i for i, article in enumerate(articles)}
    chunk_article = torch.tensor([column[chunk.article_id] for chunk in entries.chunks])
    vectors = torch.tensor(entries.vectors, dtype=torch.float32)
    usable = [q for q in questions if all(a in column for a in q.articles)]
    positives = torch.zeros(len(usable), len(articles), dtype=torch.bool)
    for row, question in enumerate(usable):
        for article in question.articles:
            positives[row, column[article]] = True
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    tokenizer = encoder.tokenizer
    started = time.perf_counter()
    order = list(range(len(usable)))
    model.train()
    for _ in range(config.epochs):
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            batch = tokenizer(
                [usable[i].question for i in rows], padding=True, truncation=True, return_tensors="pt"
            )
            mask = batch["attention_mask"]
            hidden = model(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
            queries = F.normalize(_mean(hidden, mask), dim=1)
            logits = _article_scores(queries @ vectors.T, chunk_article, len(articles)) * config.scale
            wanted = positives[rows]
            # -log of the probability mass on the right articles (several may be right).
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~wanted, -1e4), 1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return TrainedRetriever(model, config, base_model, time.perf_counter() - started, len(usable))


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    expanded = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * expanded).sum(1) / expanded.sum(1).clamp(min=1e-9)


def _article_scores(chunk_scores: torch.Tensor, chunk_article: torch.Tensor, articles: int) -> torch.Tensor:
    """Each article at its best chunk's score (as the index ranks them)."""
    out = torch.full((chunk_scores.shape[0], articles), -1e4, dtype=chunk_scores.dtype)
    return out.scatter_reduce(1, chunk_article.expand(chunk_scores.shape[0], -1), chunk_scores, reduce="amax")


def query_encoder_of(encoder: SentenceTransformer, trained: TrainedRetriever) -> SentenceTransformer:
    """A copy of ``encoder`` whose transformer carries the trained LoRA, merged."""
    return _with_merged(encoder, copy.deepcopy(trained.peft_model))


def load_query_encoder(encoder: SentenceTransformer, ref: store.AdapterRef) -> SentenceTransformer:
    """A copy of ``encoder`` with the stored adapter merged into its upper layers; ``encoder``
    itself (which embeds the articles) is left as it was."""
    from peft import PeftModel

    store.verify(ref)
    base: Any = copy.deepcopy(encoder.transformers_model)
    with peft_wrapping():
        peft_model = PeftModel.from_pretrained(base, str(ref.path))
    return _with_merged(encoder, peft_model)


def _with_merged(encoder: SentenceTransformer, peft_model: Any) -> SentenceTransformer:
    merged = peft_model.merge_and_unload()
    twin = copy.deepcopy(encoder)
    transformer: Any = twin.transformers_model
    transformer.load_state_dict(merged.state_dict())
    twin.eval()
    return twin


def save_retriever(
    trained: TrainedRetriever, adapter_dir: Path, metrics: dict[str, Any], data_hash: str
) -> store.AdapterRef:
    """Write a new version atomically (a temporary folder renamed when complete)."""
    version = store.next_version(adapter_dir, NAME)
    final = Path(adapter_dir) / NAME / version
    staging = final.with_name(f".{version}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    trained.peft_model.peft_config["default"].base_model_name_or_path = trained.base_model
    trained.peft_model.save_pretrained(str(staging), save_embedding_layers=False)
    training = {
        "name": NAME,
        "version": version,
        "base_model": trained.base_model,
        "data_hash": data_hash,
        "questions": trained.questions,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "train_seconds": round(trained.train_seconds, 1),
        "config": asdict(trained.config),
    }
    _write_json(staging / "training.json", training)
    _write_json(staging / "metrics.json", metrics)
    _write_json(staging / store.MANIFEST, {"sha256": store.file_hashes(staging)})
    staging.rename(final)
    return store.AdapterRef(NAME, version, final)


def production(adapter_dir: Path) -> store.AdapterRef | None:
    """The promoted version, or None (the base encoder serves)."""
    pointer = Path(adapter_dir) / NAME / PRODUCTION_FILE
    if not pointer.is_file():
        return None
    return store.resolve(adapter_dir, NAME, pointer.read_text(encoding="utf-8").strip())


def promote(ref: store.AdapterRef, adapter_dir: Path) -> None:
    pointer = Path(adapter_dir) / NAME / PRODUCTION_FILE
    partial = pointer.with_name(f".{PRODUCTION_FILE}.partial")
    partial.write_text(ref.version + "\n", encoding="utf-8")
    partial.replace(pointer)


def serving_ref(adapter_dir: Path, setting: str) -> store.AdapterRef | None:
    """The version the ``retriever_adapter`` setting names: ``production`` (the promoted one,
    None without), ``base`` (None), or a version such as ``v2``."""
    if setting == BASE:
        return None
    if setting == "production":
        return production(adapter_dir)
    return store.resolve(adapter_dir, NAME, setting)


def serving_query_encoder(
    encoder: SentenceTransformer, adapter_dir: Path, setting: str
) -> SentenceTransformer:
    """What embeds the queries: the adapter the setting names merged into a copy of
    ``encoder``, or ``encoder`` itself when there is none (the base retriever)."""
    ref = serving_ref(adapter_dir, setting)
    if ref is None:
        return encoder
    log.info("retriever adapter %s embeds the queries", ref.id)
    return load_query_encoder(encoder, ref)


def better(candidate: RankedRows, current: RankedRows) -> bool:
    """The gate: strictly more questions right first, or as many and a higher MRR."""
    new, old = summary(candidate), summary(current)
    return (new["recall_at_1"], new["mrr"]) > (old["recall_at_1"], old["mrr"])


RankedRows = Sequence[RankedQuestion]


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
