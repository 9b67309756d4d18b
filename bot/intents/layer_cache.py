"""Run the frozen lower layers of a BERT-style encoder once per example instead of every step.

LoRA sits only in the top layers, so the hidden states that enter them are a fixed function of
the text. Computing those once (forward only) and training just the top layers removes most
of the cost of an epoch. The result is the same network: serving runs the full encoder.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.masking_utils import create_bidirectional_mask

from bot.intents.model import mean_pool, tokenize

# Encoders whose layers take (hidden_states, attention_mask) and nothing computed across layers.
CACHEABLE_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta"})
ENCODE_BATCH = 128


def supports_layer_cache(encoder: nn.Module) -> bool:
    config = getattr(encoder, "config", None)
    return (
        getattr(config, "model_type", None) in CACHEABLE_MODEL_TYPES
        and hasattr(encoder, "embeddings")
        and hasattr(encoder, "encoder")
    )


def layer_count(encoder: PreTrainedModel) -> int:
    return int(encoder.config.num_hidden_layers)


def _layers(encoder: nn.Module) -> nn.ModuleList:
    layers = encoder.encoder.layer  # type: ignore[union-attr]
    assert isinstance(layers, nn.ModuleList)
    return layers


@torch.no_grad()
def lower_layer_states(
    encoder: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    frozen_layers: int,
    device: torch.device,
) -> list[torch.Tensor]:
    """Hidden states after the embeddings and the first ``frozen_layers`` layers, one unpadded
    ``[tokens, hidden]`` tensor per text (kept on ``device``)."""
    was_training = encoder.training
    encoder.eval()
    states: list[torch.Tensor | None] = [None] * len(texts)
    # Length-sorted chunks pad little; the result keeps the caller's order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), ENCODE_BATCH):
        chunk = order[start : start + ENCODE_BATCH]
        inputs = tokenize(tokenizer, [texts[i] for i in chunk], device)
        hidden = encoder.embeddings(input_ids=inputs["input_ids"])  # type: ignore[operator]
        hidden = run_layers(encoder, hidden, inputs["attention_mask"], 0, frozen_layers)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for row, (index, length) in enumerate(zip(chunk, lengths, strict=True)):
            states[index] = hidden[row, : int(length)].clone()
    encoder.train(was_training)
    return [state for state in states if state is not None]


def run_layers(
    encoder: nn.Module,
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    first: int,
    stop: int | None = None,
) -> torch.Tensor:
    mask = create_bidirectional_mask(
        config=encoder.config,  # type: ignore[arg-type]
        inputs_embeds=hidden,
        attention_mask=attention_mask,
    )
    for layer in _layers(encoder)[first:stop]:
        hidden = layer(hidden, mask)
    return hidden


def upper_layer_embeddings(
    encoder: nn.Module, states: list[torch.Tensor], first_trainable: int
) -> torch.Tensor:
    """Mean-pooled sentence embeddings from cached lower-layer ``states`` through the top layers."""
    longest = max(state.shape[0] for state in states)
    hidden = states[0].new_zeros(len(states), longest, states[0].shape[1])
    attention_mask = torch.zeros(len(states), longest, dtype=torch.long, device=states[0].device)
    for row, state in enumerate(states):
        hidden[row, : state.shape[0]] = state
        attention_mask[row, : state.shape[0]] = 1
    hidden = run_layers(encoder, hidden, attention_mask, first_trainable)
    return mean_pool(hidden, attention_mask)
