"""The intent classifier: a sentence encoder (optionally LoRA-adapted) plus a cosine head.

The head scores a message by the cosine between its mean-pooled embedding and one prototype
vector per intent, times a learned scale. Cosine scores keep the confidence of a message
that resembles no intent low, which is what out-of-scope detection needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from bot.intents.base_model import resolve_model_path

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


def load_encoder(base_model: str) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    path = resolve_model_path(base_model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path)
    return tokenizer, encoder


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
