"""Temperature, out-of-scope logit and threshold: fitted on the validation split and only there."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
import torch

from bot.config import DEFAULT_BASE_MODEL, PROJECT_ROOT
from bot.intents.calibration import (
    MAX_OUT_OF_SCOPE_THRESHOLD,
    Calibration,
    calibrate,
    fit_temperature,
    rejection_threshold,
)
from bot.intents.dataset import OUT_OF_SCOPE, Example, IntentDataset
from bot.intents.train import TrainingConfig, train_model

N_INTENTS = 8


def logits_with_gap(
    top: torch.Tensor, gap: torch.Tensor | float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One row per ``top`` value: the target intent scores ``top``, every other intent ``top - gap``
    (plus a little noise)."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, N_INTENTS, (len(top),), generator=generator)
    logits = (top - gap).unsqueeze(1) + 0.1 * torch.randn(len(top), N_INTENTS, generator=generator)
    logits[torch.arange(len(top)), targets] = top
    return logits, targets


def test_threshold_never_rejects_a_message_whose_top_intent_is_more_likely_than_not() -> None:
    logits, targets = logits_with_gap(torch.full((500,), 10.0), gap=torch.linspace(0.5, 6.0, 500), seed=1)
    calibration = calibrate(logits, targets, max_in_scope_rejection=0.05)
    assert calibration.out_of_scope_threshold == MAX_OUT_OF_SCOPE_THRESHOLD
    confidence = calibration.probabilities(logits).max(-1).values
    assert bool((confidence[confidence < calibration.out_of_scope_threshold] < 0.5).all())


def test_temperature_softens_overconfident_logits_and_sharpens_timid_ones() -> None:
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, N_INTENTS, (400,), generator=generator)
    # Right 70% of the time, but always with a big gap: overconfident.
    predicted = torch.where(torch.rand(400, generator=generator) < 0.7, targets, (targets + 1) % N_INTENTS)
    logits = torch.nn.functional.one_hot(predicted, N_INTENTS).float() * 10
    assert fit_temperature(logits, targets) > 2.0
    assert fit_temperature(logits / 100, targets) < 0.5


def test_threshold_rejects_at_most_the_allowed_share_of_in_scope_validation_examples() -> None:
    # Gaps small enough that the 5% cut lies below the 0.5 cap on the threshold.
    logits, targets = logits_with_gap(torch.full((500,), 10.0), gap=torch.linspace(0.0, 2.0, 500), seed=1)
    calibration = calibrate(logits, targets, max_in_scope_rejection=0.05)
    assert calibration.out_of_scope_threshold < MAX_OUT_OF_SCOPE_THRESHOLD
    confidence = calibration.probabilities(logits).max(-1).values
    rejected = int((confidence < calibration.out_of_scope_threshold).sum())
    assert rejected == 25, "5% of 500, and not one more"
    assert calibration.val_in_scope_rejection == pytest.approx(0.05)
    assert calibration.val_out_of_scope_recall is None and calibration.out_of_scope_logit is None


def test_rejection_threshold_keeps_ties_at_the_cut_and_handles_no_examples() -> None:
    assert rejection_threshold(torch.tensor([0.2, 0.5, 0.5, 0.9]), 0.5) == 0.5
    assert rejection_threshold(torch.tensor([0.3, 0.4]), 0.0) == pytest.approx(0.3)
    assert rejection_threshold(torch.tensor([]), 0.02) == 0.0


def test_out_of_scope_logit_catches_messages_that_resemble_no_intent_with_a_clear_winner() -> None:
    # Same gap between the top intent and the rest, so plain max-softmax cannot tell them apart;
    # only the absolute score (how much a message resembles its best intent) differs.
    in_scope, in_targets = logits_with_gap(12 + torch.rand(300), gap=6.0, seed=2)
    unknown, _ = logits_with_gap(5 + torch.rand(60), gap=6.0, seed=3)
    logits = torch.cat([in_scope, unknown])
    targets = torch.cat([in_targets, torch.full((60,), -1)])

    calibration = calibrate(logits, targets)
    assert calibration.out_of_scope_logit is not None
    assert calibration.val_out_of_scope_recall == 1.0
    assert calibration.val_in_scope_rejection <= 0.02
    plain = replace(calibration, out_of_scope_logit=None).probabilities(unknown).max(-1).values
    assert (plain > 0.9).all(), "plain softmax is sure of these"


def test_probabilities_leave_the_out_of_scope_share_out_of_the_intents() -> None:
    logits = torch.tensor([[10.0, 2.0, 1.0], [3.0, 2.5, 1.0]])
    plain = Calibration(1.0, 0.5, 0.0, None).probabilities(logits)
    assert plain.sum(-1) == pytest.approx(torch.ones(2))
    with_background = Calibration(1.0, 0.5, 0.0, None, out_of_scope_logit=6.0).probabilities(logits)
    assert (with_background.sum(-1) < 1).all()
    assert with_background[1].max() < 0.1 < with_background[0].max()


def test_calibration_files_without_an_out_of_scope_logit_still_load() -> None:
    old = {"temperature": 0.62, "out_of_scope_threshold": 0.37, "val_in_scope_rejection": 0.01}
    assert Calibration.from_json(old) == Calibration(0.62, 0.37, 0.01, None, None)
    current = Calibration(0.5, 0.4, 0.02, 0.8, 7.5)
    assert Calibration.from_json(current.to_json()) == current


def shipped_rows(path: str, intents: list[str], per_intent: int) -> list[Example]:
    taken: dict[str, list[Example]] = {intent: [] for intent in intents}
    with (PROJECT_ROOT / "data" / path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            group = taken.get(row["intent"], [])
            if len(group) < per_intent:
                group.append(Example(row["text"], row["intent"]))
    return [example for group in taken.values() for example in group]


@pytest.mark.slow
def test_training_calibrates_on_the_validation_split_and_never_looks_at_test() -> None:
    intents = ["cancel_order", "reset_password", "track_order"]
    train = shipped_rows("train.csv", intents, 6)
    val = shipped_rows("test.csv", intents, 3) + [
        Example("what is the capital of france", OUT_OF_SCOPE),
        Example("write me a poem about cats", OUT_OF_SCOPE),
    ]
    config = TrainingConfig(epochs=1, batch_size=6, trainable_layers=1, device="cpu", bf16="off")

    def calibration_with_test(test: list[Example]) -> Calibration:
        dataset = IntentDataset(train=train, val=val, test=test, labels=intents)
        return train_model(dataset, DEFAULT_BASE_MODEL, config).calibration

    easy_test = shipped_rows("test.csv", intents, 4)[-3:]
    hostile_test = [Example("are you a robot", OUT_OF_SCOPE)] * 50 + [
        Example("track my parcel", "cancel_order")
    ]
    with_easy, with_hostile = calibration_with_test(easy_test), calibration_with_test(hostile_test)
    assert with_easy == with_hostile
    assert with_easy.val_in_scope_rejection <= 0.02 and with_easy.val_out_of_scope_recall is not None
