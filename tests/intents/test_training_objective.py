"""What the training loss scores: the cosine margin and the background class that out-of-scope
training examples are taught to fall into."""

from __future__ import annotations

import csv

import pytest
import torch

from bot.config import DEFAULT_BASE_MODEL, PROJECT_ROOT
from bot.intents.dataset import OUT_OF_SCOPE, Example, IntentDataset
from bot.intents.model import tokenize
from bot.intents.train import (
    FEW_SHOT_EXAMPLES,
    FEW_SHOT_MARGIN,
    TrainedModel,
    TrainingConfig,
    name_examples,
    resolved_config,
    train_model,
    training_logits,
)

INTENTS = ["cancel_order", "reset_password", "track_order", "payment_methods"]


def test_the_margin_lowers_only_each_examples_own_intent() -> None:
    logits = torch.tensor([[5.0, 4.0, 1.0], [2.0, 6.0, 3.0]])
    scored = training_logits(logits, torch.tensor([0, 1]), margin=2.0, background=None)
    assert scored.tolist() == [[3.0, 4.0, 1.0], [2.0, 4.0, 3.0]]


def test_out_of_scope_examples_target_a_background_column_and_keep_their_scores() -> None:
    logits = torch.tensor([[5.0, 4.0], [2.0, 3.0]])
    background = torch.tensor(2.5)
    # Target 2 (one past the last intent) is the background class: no intent is its own.
    scored = training_logits(logits, torch.tensor([0, 2]), margin=1.0, background=background)
    assert scored.tolist() == [[4.0, 4.0, 2.5], [2.0, 3.0, 2.5]]
    loss = torch.nn.functional.cross_entropy(scored, torch.tensor([0, 2]))
    assert torch.isfinite(loss)


def shipped(path: str, per_intent: int, intents: list[str]) -> list[Example]:
    taken: dict[str, list[Example]] = {intent: [] for intent in intents}
    with (PROJECT_ROOT / "data" / path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            group = taken.get(row["intent"])
            if group is not None and len(group) < per_intent:
                group.append(Example(row["text"], row["intent"]))
    return [example for group in taken.values() for example in group]


def best_cosines(trained: TrainedModel, texts: list[str]) -> torch.Tensor:
    """Each text's cosine to its closest intent prototype (the head's score without its scale)."""
    network = trained.network.eval()
    with torch.no_grad():
        logits = network(**tokenize(trained.tokenizer, texts, torch.device("cpu")))
        return logits.max(-1).values / network.head.log_scale.exp()


@pytest.mark.slow
def test_out_of_scope_training_examples_are_pushed_away_from_every_intent() -> None:
    out_of_scope = shipped("out_of_scope.csv", 12, [OUT_OF_SCOPE])
    train = shipped("train.csv", 8, INTENTS)
    dataset = IntentDataset(
        train=train, val=[], test=[], labels=sorted(INTENTS), train_out_of_scope=out_of_scope
    )

    def closest_outsiders(weight: float) -> float:
        """The mean cosine of the three out-of-scope examples that look most like an intent:
        those are the ones the background class has to win back."""
        config = TrainingConfig(
            epochs=5,
            batch_size=8,
            trainable_layers=2,
            cosine_margin=0.0,
            out_of_scope_weight=weight,
            device="cpu",
            bf16="off",
        )
        trained = train_model(dataset, DEFAULT_BASE_MODEL, config)
        in_scope = best_cosines(trained, [example.text for example in train])
        assert float(in_scope.mean()) > 0.6, "the intents' own examples stay close to them"
        return float(best_cosines(trained, [example.text for example in out_of_scope]).topk(3).values.mean())

    assert closest_outsiders(1.0) < closest_outsiders(0.0) - 0.05


def test_the_margin_is_on_by_default_only_for_few_examples_an_intent() -> None:
    def examples(per_intent: int) -> list[Example]:
        return [Example(f"{intent} {i}", intent) for intent in INTENTS for i in range(per_intent)]

    few = resolved_config(TrainingConfig(), examples(FEW_SHOT_EXAMPLES))
    many = resolved_config(TrainingConfig(), examples(FEW_SHOT_EXAMPLES + 1))
    assert few.cosine_margin == FEW_SHOT_MARGIN and few.intent_names_as_examples is True
    assert many.cosine_margin == 0.0 and many.intent_names_as_examples is False
    chosen = resolved_config(TrainingConfig(cosine_margin=0.05, intent_names_as_examples=False), examples(5))
    assert chosen.cosine_margin == 0.05 and chosen.intent_names_as_examples is False


def test_intent_names_read_as_plain_words() -> None:
    names = ["card_arrival", "askWeather", "order-status", "Refund.Request"]
    texts = [example.text for example in name_examples(names)]
    assert texts == ["card arrival", "ask weather", "order status", "refund request"]
    assert [example.intent for example in name_examples(names)] == names
