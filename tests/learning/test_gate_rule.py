"""The gate's decision rule on exact counts: small classifiers that answer from a table.

The real-model rounds are in test_gate_rounds.py; here each case sets exactly which utterances
moved, so the rule's boundaries (one or two flips, a whole intent, new intents) are checked
without training.
"""

from __future__ import annotations

import logging

import pytest

from bot.config import Settings
from bot.intents.dataset import Example
from bot.intents.model import Prediction
from bot.learning.gate import GateSettings, run_gate

INTENTS = [f"intent_{i:02d}" for i in range(32)]
HELD_OUT = [Example(f"{intent} utterance {n}", intent) for intent in INTENTS for n in range(13)]
RULE = GateSettings(bootstrap_resamples=200)


class TableClassifier:
    """Answers the true intent except where ``answers`` says otherwise."""

    def __init__(self, version: str, labels: list[str], answers: dict[str, str] | None = None) -> None:
        self.version = version
        self.labels = labels
        self.answers = answers or {}
        self.truth = {e.text: e.intent for e in HELD_OUT}

    @property
    def out_of_scope_threshold(self) -> float:
        return 0.5

    def classify(self, texts: list[str]) -> list[Prediction]:
        intents = [self.answers.get(text, self.truth.get(text, self.labels[0])) for text in texts]
        return [Prediction(intent, 0.9, [(intent, 0.9)]) for intent in intents]


def wrong(intent: str, count: int, answer: str = "intent_00") -> dict[str, str]:
    return {f"{intent} utterance {n}": answer for n in range(count)}


def production() -> TableClassifier:
    return TableClassifier("default/v2", INTENTS)


def test_two_flips_in_a_thirteen_utterance_intent_pass() -> None:
    # The case: shipping_options lost two of 13, a raw F1 drop of about 0.1.
    candidate = TableClassifier("default/v3", INTENTS, wrong("intent_05", 2, "intent_06"))
    result = run_gate(candidate, production(), HELD_OUT, [], RULE)
    assert result.passed, result.reasons
    row = next(r for r in result.report["held_out"]["intents"] if r["intent"] == "intent_05")
    assert (row["broken"], row["fixed"], row["verdict"]) == (2, 0, "worse, within chance")
    assert row["f1_difference"] < -0.05
    assert any("within chance" in line and "intent_05" in line for line in result.report["summary"])


def test_a_whole_intent_broken_is_refused_beyond_chance() -> None:
    candidate = TableClassifier("default/v3", INTENTS, wrong("intent_07", 13))
    result = run_gate(candidate, production(), HELD_OUT, [], RULE)
    assert not result.passed
    assert any(reason.startswith("intent_07 is worse beyond chance") for reason in result.reasons)
    assert result.report["summary"][0].startswith("Refused")


def test_more_than_half_an_intent_broken_is_refused_beyond_the_tolerance() -> None:
    # 8 of 13: not beyond chance after correcting for 32 intents, but beyond the tolerance.
    fixed_elsewhere = {f"intent_{i:02d} utterance 0": f"intent_{i:02d}" for i in range(20, 28)}
    before = TableClassifier("default/v2", INTENTS, {text: "intent_00" for text in fixed_elsewhere})
    candidate = TableClassifier("default/v3", INTENTS, wrong("intent_09", 8))
    result = run_gate(candidate, before, HELD_OUT, [], RULE)
    row = next(r for r in result.report["held_out"]["intents"] if r["intent"] == "intent_09")
    assert not row["worse_beyond_chance"] and row["worse_beyond_tolerance"]
    assert not result.report["held_out"]["overall"]["worse_beyond_chance"]
    assert [reason.split(" is ")[0] for reason in result.reasons] == ["intent_09"]


def test_many_small_losses_are_refused_overall() -> None:
    answers: dict[str, str] = {}
    for intent in INTENTS[1:21]:
        answers.update(wrong(intent, 1))  # one utterance in each of 20 intents
    result = run_gate(TableClassifier("default/v3", INTENTS, answers), production(), HELD_OUT, [], RULE)
    assert not result.passed
    assert result.reasons[0].startswith("the candidate is worse overall beyond chance")
    assert not any(row["worse_beyond_chance"] for row in result.report["held_out"]["intents"])


def test_a_new_intent_with_few_held_out_turns_is_reported_not_judged() -> None:
    new = [Example(f"wrap it as a gift {n}", "gift_wrapping") for n in range(2)]
    candidate = TableClassifier("default/v3", [*INTENTS, "gift_wrapping"], {e.text: "intent_00" for e in new})
    result = run_gate(candidate, production(), HELD_OUT + new, [], RULE)
    assert result.passed
    [row] = result.report["held_out"]["new_intents"]
    assert (row["examples"], row["correct"], row["judged"]) == (2, 0, False)
    assert any("too few to judge" in line for line in result.report["summary"])


def test_a_new_intent_the_candidate_does_not_recognise_is_refused() -> None:
    new = [Example(f"wrap it as a gift {n}", "gift_wrapping") for n in range(6)]
    candidate = TableClassifier("default/v3", [*INTENTS, "gift_wrapping"], {e.text: "intent_00" for e in new})
    result = run_gate(candidate, production(), HELD_OUT + new, [], RULE)
    assert not result.passed
    assert result.reasons == [
        "new intent gift_wrapping is recognised in only 0 of its 6 held-out labelled turns: fewer "
        "than half beyond chance (p = 0.01562, below 0.05)"
    ]


def test_the_same_candidate_gets_the_same_report() -> None:
    candidate = TableClassifier("default/v3", INTENTS, wrong("intent_03", 3))
    first = run_gate(candidate, production(), HELD_OUT, [], RULE).report
    assert run_gate(candidate, production(), HELD_OUT, [], RULE).report == first


def test_the_rule_comes_from_the_settings() -> None:
    rule = GateSettings.from_settings(Settings(gate_alpha=0.01, gate_intent_tolerance=0.5))
    assert (rule.alpha, rule.intent_tolerance, rule.confidence) == (0.01, 0.5, 0.99)


def test_the_old_f1_drop_setting_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Settings(gate_max_f1_drop=0.05)
    assert "BOT_GATE_MAX_F1_DROP is deprecated and ignored" in caplog.text
