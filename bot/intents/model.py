"""The intent classifier: a sentence encoder (optionally LoRA-adapted) plus a cosine head.

The head scores a message by the cosine between its mean-pooled embedding and one prototype
vector per intent, times a learned scale. Cosine scores keep the confidence of a message
that resembles no intent low, which is what out-of-scope detection needs.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from bot.encoder import resolve_model_path

MAX_TOKENS = 64


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    top_k: list[tuple[str, float]]

    @property
    def margin(self) -> float:
        """Confidence gap between the best two intents: small means the model hesitates."""
        if len(self.top_k) < 2:
            return self.confidence
        return self.top_k[0][1] - self.top_k[1][1]


class CosineHead(nn.Module):
    def __init__(self, hidden_size: int, n_labels: int, scale: float = 20.0) -> None:
        super().__init__()
        self.prototypes = nn.Parameter(torch.randn(n_labels, hidden_size) * 0.02)
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        cosine = F.normalize(embeddings, dim=-1) @ F.normalize(self.prototypes, dim=-1).T
        return cosine * self.log_scale.exp()


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class IntentNetwork(nn.Module):
    """Encoder + head; the encoder may be a PEFT model (training) or merged weights (serving)."""

    def __init__(self, encoder: nn.Module, head: CosineHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(output.last_hidden_state, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(input_ids, attention_mask))


@dataclass(frozen=True)
class LoadedBase:
    """A base encoder already in memory (the retriever's), so that the intent model is built on
    its weights instead of reading the same file a second time (the start-up loaded it twice)."""

    model_id: str
    model: PreTrainedModel

    def sharing_copy(self, model_id: str) -> PreTrainedModel | None:
        """A module tree of its own whose weights are this model's tensors, when ``model_id``
        names the same model; else None. Whoever changes a weight in place must first give its
        module a copy (:func:`own_adapted_weights`): the retriever reads the same tensors."""
        if resolve_model_path(model_id) != resolve_model_path(self.model_id):
            return None
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return copy.deepcopy(self.model, {id(tensor): tensor for tensor in tensors})


def own_adapted_weights(peft_model: nn.Module) -> None:
    """Give every LoRA-wrapped layer a private copy of its base weights, which merging the LoRA
    matrices changes in place; the rest of the encoder stays shared."""
    from peft.tuners.lora import LoraLayer

    for module in peft_model.modules():
        if isinstance(module, LoraLayer):
            base = module.get_base_layer()
            for name, tensor in list(base.named_parameters(recurse=False)):
                setattr(base, name, nn.Parameter(tensor.detach().clone(), requires_grad=tensor.requires_grad))


@contextmanager
def peft_wrapping() -> Iterator[None]:
    """Around wrapping an encoder in PEFT (``get_peft_model``, ``PeftModel.from_pretrained``).

    peft 0.21 reads ``model.is_gradient_checkpointing``, which transformers 5 deprecated in
    favour of ``is_activation_checkpointing``, so every load printed a FutureWarning about a
    call in peft, not here. Only that warning is filtered, only here, until peft reads the new
    name.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], device: torch.device
) -> dict[str, torch.Tensor]:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    return {
        "input_ids": batch["input_ids"].to(device),
        "attention_mask": batch["attention_mask"].to(device),
    }


def predictions_from_probabilities(
    probabilities: torch.Tensor, labels: list[str], k: int = 3
) -> list[Prediction]:
    top_values, top_indices = probabilities.topk(min(k, len(labels)), dim=-1)
    predictions = []
    for values, indices in zip(top_values.tolist(), top_indices.tolist(), strict=True):
        ranked = [(labels[i], float(v)) for v, i in zip(values, indices, strict=True)]
        predictions.append(Prediction(ranked[0][0], ranked[0][1], ranked))
    return predictions
