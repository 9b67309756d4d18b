"""One pass through the lower layers for both models of a turn.

The intent model is a LoRA adapter on the same sentence encoder the retriever embeds queries
with, and a shipped adapter touches only the upper layers (``--trainable-layers``): below them
both models compute the same function of the same tokens. Here the lower layers run once per
message and both upper stacks run on their output; the retriever's upper stack only for the
messages whose reply will use knowledge-base hits (the rest skip it, as before).

Sharing is used only where it gives the two separate passes' results: same tokenizer, the same
weights in the embeddings and each shared layer (compared, not assumed: the model ids and the
adapter's ``layers_to_transform`` are what make them equal), the same precision, the
retriever a plain mean-pooled, normalised BERT-style encoder on the same device as the intent
model (the CPU, or the GPU ``BOT_DEVICE`` picked for both). Anything else (an adapter on every
layer, another base model, the models on different devices) gets ``None`` from
:func:`shared_pass_for` and the engine runs the two passes as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

from bot.intents.classifier import Classifier, IntentClassifier
from bot.intents.layer_cache import run_layers, supports_layer_cache
from bot.intents.model import MAX_TOKENS, Prediction, mean_pool, predictions_from_probabilities
from bot.retrieval.index import Hit, KnowledgeIndex, best_articles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnQuery:
    """A message, and whether its reply will look at knowledge-base hits given the prediction
    (the engine's rule; it runs in the inference thread, right after the intent stack)."""

    text: str
    top_k: int
    wants_knowledge: Callable[[Prediction], bool]


@dataclass(frozen=True)
class TurnInference:
    prediction: Prediction
    hits: list[Hit] | None  # None: the reply does not use them, so they were not computed


class SharedPass:
    """The intent model and the retriever sharing their first ``shared_layers`` layers."""

    def __init__(self, classifier: IntentClassifier, index: KnowledgeIndex, shared_layers: int) -> None:
        self.classifier = classifier
        self.index = index
        self.shared_layers = shared_layers
        # BERT-style models (``embeddings``, ``encoder.layer``), checked by shared_layer_count.
        # The query side: the shop-adapted retriever's upper layers where one serves.
        self.retriever: Any = index.query_encoder.transformers_model
        self.intent_encoder: Any = classifier.network.encoder
        self.tokenizer: PreTrainedTokenizerBase = index.encoder.tokenizer
        self.max_tokens = int(index.encoder.max_seq_length or MAX_TOKENS)
        self.device: torch.device = classifier.device

    def run(self, queries: Sequence[TurnQuery]) -> list[TurnInference]:
        # The locks the two models take for their own passes, always in this order.
        with self.classifier.lock, self.index.lock, torch.inference_mode():
            return self._run(queries)

    def _run(self, queries: Sequence[TurnQuery]) -> list[TurnInference]:
        texts = [query.text.strip() for query in queries]  # as sentence-transformers reads them
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        mask: torch.Tensor = batch["attention_mask"].to(self.device)
        lengths = mask.sum(dim=1).cpu()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.classifier.bf16):
            lower = self.retriever.embeddings(input_ids=batch["input_ids"].to(self.device))
            lower = run_layers(self.retriever, lower, mask, 0, self.shared_layers)
            predictions = self._predictions(texts, lower, mask, lengths)
            wanted = [i for i, query in enumerate(queries) if query.wants_knowledge(predictions[i])]
            hits = self._hits(queries, lower, mask, wanted)
        return [TurnInference(prediction, hits.get(i)) for i, prediction in enumerate(predictions)]

    def _predictions(
        self, texts: list[str], lower: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor
    ) -> list[Prediction]:
        # The intent model reads at most MAX_TOKENS tokens: a longer message would have seen a
        # shorter context in the lower layers too, so it gets the intent model's own full pass.
        fits = [i for i in range(len(texts)) if int(lengths[i]) <= MAX_TOKENS]
        longer = [i for i in range(len(texts)) if int(lengths[i]) > MAX_TOKENS]
        predictions: dict[int, Prediction] = {}
        if fits:
            width = int(lengths[fits].max())
            rows = torch.tensor(fits, device=self.device)
            hidden, row_mask = lower[rows, :width], mask[rows, :width]
            hidden = run_layers(self.intent_encoder, hidden, row_mask, self.shared_layers)
            logits = self.classifier.network.head(mean_pool(hidden, row_mask)).float()
            probabilities = self.classifier.calibration.probabilities(logits).cpu()
            found = predictions_from_probabilities(probabilities, self.classifier.labels)
            predictions.update(zip(fits, found, strict=True))
        if longer:
            own = self.classifier.classify([texts[i] for i in longer])
            predictions.update(zip(longer, own, strict=True))
        return [predictions[i] for i in range(len(texts))]

    def _hits(
        self, queries: Sequence[TurnQuery], lower: torch.Tensor, mask: torch.Tensor, wanted: list[int]
    ) -> dict[int, list[Hit]]:
        entries = self.index.entries
        if not wanted:
            return {}
        if not entries.chunks:
            return {i: [] for i in wanted}
        rows = torch.tensor(wanted, device=self.device)
        width = int(mask[rows].sum(dim=1).max())
        hidden, row_mask = lower[rows, :width], mask[rows, :width]
        hidden = run_layers(self.retriever, hidden, row_mask, self.shared_layers)
        vectors = F.normalize(_sentence_mean(hidden, row_mask).float(), p=2, dim=1).cpu().numpy()
        scores = vectors @ entries.vectors.T
        return {
            i: best_articles(entries.chunks, row, queries[i].top_k)
            for i, row in zip(wanted, scores, strict=True)
        }


def _sentence_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' mean pooling (its arithmetic, so fp32 results agree to the bit)."""
    expanded = mask.unsqueeze(-1).expand(hidden.size()).to(hidden.dtype)
    return torch.sum(hidden * expanded, 1) / torch.clamp(expanded.sum(1), min=1e-9)


def shared_pass_for(classifier: Classifier, index: KnowledgeIndex) -> SharedPass | None:
    """A :class:`SharedPass` when the two models may share their lower layers, else None."""
    if not isinstance(classifier, IntentClassifier):
        return None
    layers = shared_layer_count(classifier, index)
    if layers == 0:
        return None
    return SharedPass(classifier, index, layers)


def shared_layer_count(classifier: IntentClassifier, index: KnowledgeIndex) -> int:
    """How many leading layers (after the embeddings) the two models have in common; 0: none."""
    encoder = index.encoder
    modules = [type(module).__name__ for module in encoder]
    if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return 0
    pooling: Any = encoder[1]
    if pooling.get_config_dict().get("pooling_mode") != "mean":
        return 0
    retriever: Any = index.query_encoder.transformers_model
    intent: Any = classifier.network.encoder
    if retriever is None or not (supports_layer_cache(retriever) and supports_layer_cache(intent)):
        return 0
    if not same_device(classifier.device, retriever.device):
        return 0
    if classifier.bf16 != index.bf16_queries or retriever.config.to_dict() != intent.config.to_dict():
        return 0
    if not _same_tokenizer(classifier.tokenizer, encoder.tokenizer):
        return 0
    if not _same_weights(retriever.embeddings, intent.embeddings):
        return 0
    shared = 0
    for mine, theirs in zip(retriever.encoder.layer, intent.encoder.layer, strict=True):
        if not _same_weights(mine, theirs):
            break
        shared += 1
    # Sharing every layer would leave the intent model unadapted: that is not a shipped adapter.
    return shared if shared < retriever.config.num_hidden_layers else 0


def same_device(mine: torch.device, theirs: torch.device) -> bool:
    """``cuda`` and ``cuda:0`` are one device (an unnumbered CUDA device is the current one)."""
    if mine.type != theirs.type:
        return False
    if mine.type != "cuda":
        return True
    current = torch.cuda.current_device() if torch.cuda.is_available() else 0
    return (mine.index if mine.index is not None else current) == (
        theirs.index if theirs.index is not None else current
    )


def _same_tokenizer(mine: PreTrainedTokenizerBase, theirs: PreTrainedTokenizerBase) -> bool:
    return type(mine) is type(theirs) and mine.get_vocab() == theirs.get_vocab()


def _same_weights(mine: nn.Module, theirs: nn.Module) -> bool:
    """Same parameter names and values; tensors the intent model borrowed are the same objects."""
    left, right = dict(mine.state_dict()), dict(theirs.state_dict())
    if left.keys() != right.keys():
        return False
    return all(
        left[name].data_ptr() == right[name].data_ptr()
        or (left[name].shape == right[name].shape and bool(torch.equal(left[name], right[name])))
        for name in left
    )
