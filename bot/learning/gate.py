"""The promotion gate: refuse a candidate only when the evidence says it is worse than production.

Both adapters classify the same utterances: the round's held-out split (the seed test set plus
the held-out share of staff-labelled turns) and a replay of every staff-labelled turn. Each
held-out utterance is a pair of outcomes, so the comparison is paired: utterances both get
right, or both wrong, say nothing about which is better; only the discordant ones count
(*fixed*: production wrong, candidate right; *broken*: the reverse).

The decision, on the held-out utterances of intents production already knows:

1. **Overall, beyond chance**: refused when McNemar's exact one-sided test finds more broken
   than fixed utterances than chance explains (p < alpha/2).
2. **One intent, beyond chance**: the same test for each intent's utterances, Holm-corrected
   across intents (family-wise alpha/2). Splitting alpha between 1 and 2 keeps the chance of
   refusing a candidate that is truly as good as production at most alpha. With 13 utterances
   an intent, this needs about 11 broken and none fixed: one or two flips never refuse.
3. **One intent, beyond tolerance**: refused when even the favourable end of the paired
   bootstrap interval (confidence 1 - alpha) of an intent's accuracy difference is a drop
   bigger than ``intent_tolerance``: more than half an intent of 13 broken, say.

Intents new in the candidate have no production answer to compare with; they are judged on
their own held-out turns: with at least ``min_new_intent_examples`` of them, refused when the
candidate recognises fewer than half beyond chance (exact binomial test, p < alpha); with fewer,
the report says they are too few to judge. The replay is reported (fixed and broken staff-labelled
turns, with its own McNemar p-value) but does not decide: most of those turns were trained on,
so they cannot show how the candidate generalises; their held-out share is already in 1-3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.intents.classifier import Classifier
from bot.intents.dataset import OUT_OF_SCOPE, Example
from bot.intents.evaluate import ScoredExample, metrics, score
from bot.learning.paired_stats import (
    below_half_p,
    clopper_pearson,
    holm,
    mcnemar_worse_p,
    paired_bootstrap,
)

BOOTSTRAP_SEED = 20261202


@dataclass(frozen=True)
class GateSettings:
    alpha: float = 0.05
    intent_tolerance: float = 0.25
    min_new_intent_examples: int = 5
    bootstrap_resamples: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> GateSettings:
        return cls(
            alpha=settings.gate_alpha,
            intent_tolerance=settings.gate_intent_tolerance,
            min_new_intent_examples=settings.gate_min_new_intent_examples,
            bootstrap_resamples=settings.gate_bootstrap_resamples,
        )

    @property
    def confidence(self) -> float:
        return 1 - self.alpha


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]
    report: dict[str, Any]


def run_gate(
    candidate: Classifier,
    production: Classifier,
    held_out: list[Example],
    replay: list[Example],
    rule: GateSettings | None = None,
) -> GateResult:
    rule = rule or GateSettings()
    held_out = [e for e in held_out if e.intent != OUT_OF_SCOPE]
    replay = [e for e in replay if e.intent != OUT_OF_SCOPE]
    if not held_out:
        raise ValueError("the held-out split is empty: nothing to compare the adapters on")
    cand_held, prod_held = score(candidate, held_out), score(production, held_out)
    cand_metrics = metrics(cand_held, candidate.labels, candidate.out_of_scope_threshold)
    prod_metrics = metrics(prod_held, production.labels, production.out_of_scope_threshold)
    known = set(production.labels)
    shared = [(c, p) for c, p in zip(cand_held, prod_held, strict=True) if c.example.intent in known]
    new = [c for c in cand_held if c.example.intent not in known]

    overall, intents = _shared_comparison(shared, rule) if shared else (None, [])
    new_intents = _new_intents(new, rule)
    reasons = _reasons(overall, intents, new_intents, rule)
    held_report: dict[str, Any] = {
        "examples": len(held_out),
        "candidate_accuracy": cand_metrics["accuracy"],
        "production_accuracy": prod_metrics["accuracy"],
        "candidate_macro_f1": cand_metrics["macro_f1"],
        "production_macro_f1": prod_metrics["macro_f1"],
        "overall": overall,
        "intents": intents,
        "new_intents": new_intents,
        "changes": changed_predictions(cand_held, prod_held),
    }
    report: dict[str, Any] = {
        "candidate": candidate.version,
        "production": production.version,
        "rule": {
            "alpha": rule.alpha,
            "intent_tolerance": rule.intent_tolerance,
            "min_new_intent_examples": rule.min_new_intent_examples,
            "bootstrap_resamples": rule.bootstrap_resamples,
            "confidence": rule.confidence,
        },
        "held_out": held_report,
    }
    if replay:
        cand_replay, prod_replay = score(candidate, replay), score(production, replay)
        changes = changed_predictions(cand_replay, prod_replay)
        report["replay"] = {
            "examples": len(replay),
            "candidate_accuracy": _accuracy(cand_replay),
            "production_accuracy": _accuracy(prod_replay),
            "fixed": len(changes["fixed"]),
            "broken": len(changes["broken"]),
            "p_value": _p(mcnemar_worse_p(len(changes["broken"]), len(changes["fixed"]))),
            "changes": changes,
        }
    report["passed"] = not reasons
    report["reasons"] = reasons
    report["summary"] = summary(report)
    return GateResult(not reasons, reasons, report)


def _shared_comparison(
    shared: list[tuple[ScoredExample, ScoredExample]], rule: GateSettings
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The overall and per-intent paired comparison on intents production knows."""
    truth = [c.example.intent for c, _ in shared]
    cand_pred = [c.prediction.intent for c, _ in shared]
    prod_pred = [p.prediction.intent for _, p in shared]
    names = sorted(set(truth))
    intervals = paired_bootstrap(
        truth,
        prod_pred,
        cand_pred,
        names,
        resamples=rule.bootstrap_resamples,
        confidence=rule.confidence,
        seed=BOOTSTRAP_SEED,
    )
    fixed = sum(c.correct and not p.correct for c, p in shared)
    broken = sum(p.correct and not c.correct for c, p in shared)
    p_overall = mcnemar_worse_p(broken, fixed)
    overall = {
        "examples": len(shared),
        "production_accuracy": _round(sum(p.correct for _, p in shared) / len(shared)),
        "candidate_accuracy": _round(sum(c.correct for c, _ in shared) / len(shared)),
        "fixed": fixed,
        "broken": broken,
        "p_value": _p(p_overall),
        "accuracy_difference": _round((fixed - broken) / len(shared)),
        "interval": [_round(intervals.accuracy.low), _round(intervals.accuracy.high)],
        "worse_beyond_chance": p_overall < rule.alpha / 2,
    }
    rows: list[dict[str, Any]] = []
    p_values: dict[str, float] = {}
    for name in names:
        members = [(c, p) for c, p in shared if c.example.intent == name]
        n_fixed = sum(c.correct and not p.correct for c, p in members)
        n_broken = sum(p.correct and not c.correct for c, p in members)
        p_values[name] = mcnemar_worse_p(n_broken, n_fixed)
        accuracy_interval = intervals.intent_accuracy[name]
        f1_interval = intervals.intent_f1[name]
        rows.append(
            {
                "intent": name,
                "examples": len(members),
                "production_accuracy": _round(sum(p.correct for _, p in members) / len(members)),
                "candidate_accuracy": _round(sum(c.correct for c, _ in members) / len(members)),
                "accuracy_difference": _round((n_fixed - n_broken) / len(members)),
                "accuracy_interval": [_round(accuracy_interval.low), _round(accuracy_interval.high)],
                "production_f1": _f1(name, truth, prod_pred),
                "candidate_f1": _f1(name, truth, cand_pred),
                "f1_interval": [_round(f1_interval.low), _round(f1_interval.high)],
                "fixed": n_fixed,
                "broken": n_broken,
                "p_value": _p(p_values[name]),
                "worse_beyond_tolerance": accuracy_interval.high < -rule.intent_tolerance,
            }
        )
    corrected = holm(p_values, rule.alpha / 2)
    for row in rows:
        row["f1_difference"] = _round(row["candidate_f1"] - row["production_f1"])
        row["p_holm"] = _p(corrected[row["intent"]].adjusted)
        row["worse_beyond_chance"] = corrected[row["intent"]].rejected
        row["verdict"] = _verdict(row)
    return overall, rows


def _new_intents(new: list[ScoredExample], rule: GateSettings) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in sorted({s.example.intent for s in new}):
        members = [s for s in new if s.example.intent == name]
        correct = sum(s.correct for s in members)
        low, high = clopper_pearson(correct, len(members), rule.alpha)
        judged = len(members) >= rule.min_new_intent_examples
        p_value = below_half_p(correct, len(members))
        rows.append(
            {
                "intent": name,
                "examples": len(members),
                "correct": correct,
                "candidate_accuracy": _round(correct / len(members)),
                "interval": [_round(low), _round(high)],
                "judged": judged,
                "p_value": _p(p_value),
                "fails": judged and p_value < rule.alpha,
            }
        )
    return rows


def _verdict(row: dict[str, Any]) -> str:
    if row["worse_beyond_chance"]:
        return "worse beyond chance"
    if row["worse_beyond_tolerance"]:
        return "worse beyond tolerance"
    if row["fixed"] == row["broken"] == 0:
        return "unchanged"
    if row["fixed"] > row["broken"]:
        return "better"
    if row["fixed"] < row["broken"]:
        return "worse, within chance"
    return "as many fixed as broken"


def _reasons(
    overall: dict[str, Any] | None,
    intents: list[dict[str, Any]],
    new_intents: list[dict[str, Any]],
    rule: GateSettings,
) -> list[str]:
    reasons = []
    if overall is not None and overall["worse_beyond_chance"]:
        reasons.append(
            f"the candidate is worse overall beyond chance: it breaks {overall['broken']} held-out "
            f"utterances that production gets right and fixes {overall['fixed']} "
            f"(exact McNemar p = {overall['p_value']:.4g}, below {rule.alpha / 2:g}); accuracy "
            f"{_pct(overall['production_accuracy'])} -> {_pct(overall['candidate_accuracy'])}"
        )
    for row in intents:
        if row["worse_beyond_chance"]:
            reasons.append(
                f"{row['intent']} is worse beyond chance: {row['broken']} of its {row['examples']} "
                f"held-out utterances broken, {row['fixed']} fixed (p = {row['p_value']:.4g}; "
                f"{row['p_holm']:.4g} after Holm's correction for {len(intents)} intents, "
                f"below {rule.alpha / 2:g})"
            )
        elif row["worse_beyond_tolerance"]:
            low, high = row["accuracy_interval"]
            reasons.append(
                f"{row['intent']} is worse beyond the tolerance: accuracy "
                f"{_pct(row['production_accuracy'])} -> {_pct(row['candidate_accuracy'])} on "
                f"{row['examples']} held-out utterances, and even the favourable end of its "
                f"{rule.confidence:.0%} interval ({_points(low)} to {_points(high)}) is a drop "
                f"bigger than {_points(rule.intent_tolerance)}"
            )
    for row in new_intents:
        if row["fails"]:
            reasons.append(
                f"new intent {row['intent']} is recognised in only {row['correct']} of its "
                f"{row['examples']} held-out labelled turns: fewer than half beyond chance "
                f"(p = {row['p_value']:.4g}, below {rule.alpha:g})"
            )
    return reasons


def summary(report: dict[str, Any]) -> list[str]:
    """The decision in sentences an operator can act on, most important first."""
    held = report["held_out"]
    rule = report["rule"]
    lines = []
    if report["passed"]:
        lines.append(
            "Passed: the candidate is not worse than production beyond chance overall or on any "
            f"intent, and no intent is worse beyond the tolerance ({_points(rule['intent_tolerance'])})."
        )
    else:
        lines.append(f"Refused for {len(report['reasons'])} reason(s): " + "; ".join(report["reasons"]) + ".")
    overall = held["overall"]
    if overall is not None:
        low, high = overall["interval"]
        lines.append(
            f"Held-out utterances of intents production knows ({overall['examples']}): "
            f"{overall['fixed']} fixed, {overall['broken']} broken; accuracy "
            f"{_pct(overall['production_accuracy'])} -> {_pct(overall['candidate_accuracy'])} "
            f"({_points(overall['accuracy_difference'], signed=True)}, {rule['confidence']:.0%} "
            f"interval {_points(low, signed=True)} to {_points(high, signed=True)}; "
            f"McNemar p = {overall['p_value']:.3g})."
        )
    within = [row["intent"] for row in held["intents"] if row["verdict"] == "worse, within chance"]
    if within:
        lines.append(
            "More broken than fixed, but within chance for their sample sizes: " + ", ".join(within) + "."
        )
    for row in held["new_intents"]:
        found = f"new intent {row['intent']}: {row['correct']} of {row['examples']} held-out turns recognised"
        if not row["judged"]:
            lines.append(
                f"{found.capitalize()}; too few to judge (at least {rule['min_new_intent_examples']} "
                "needed), so this is no reason to refuse."
            )
        elif not row["fails"]:
            lines.append(f"{found.capitalize()}: not fewer than half beyond chance.")
    if "replay" in report:
        replay = report["replay"]
        lines.append(
            f"Staff-labelled turns ({replay['examples']}, mostly trained on; not part of the "
            f"decision): {replay['fixed']} fixed, {replay['broken']} broken."
        )
    return lines


def changed_predictions(
    candidate: list[ScoredExample], production: list[ScoredExample]
) -> dict[str, list[dict[str, str]]]:
    fixed, broken, changed = [], [], []
    for cand, prod in zip(candidate, production, strict=True):
        if cand.prediction.intent == prod.prediction.intent:
            continue
        row = {
            "text": cand.example.text,
            "label": cand.example.intent,
            "production": prod.prediction.intent,
            "candidate": cand.prediction.intent,
        }
        if cand.correct and not prod.correct:
            fixed.append(row)
        elif prod.correct and not cand.correct:
            broken.append(row)
        else:
            changed.append(row)
    return {"fixed": fixed, "broken": broken, "changed": changed}


def _f1(intent: str, truth: list[str], predicted: list[str]) -> float:
    true_positives = sum(t == intent and p == intent for t, p in zip(truth, predicted, strict=True))
    denominator = truth.count(intent) + predicted.count(intent)
    return _round(2 * true_positives / denominator) if denominator else 0.0


def _accuracy(scored: list[ScoredExample]) -> float:
    return round(sum(s.correct for s in scored) / len(scored), 4) if scored else 0.0


def _round(value: float) -> float:
    return round(float(value), 4)


def _p(value: float) -> float:
    """A p-value to four significant digits: a tiny one stays distinguishable from zero."""
    return float(f"{value:.4g}")


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _points(value: float, signed: bool = False) -> str:
    """An accuracy difference in percentage points, as operators read it."""
    return f"{value * 100:+.1f} points" if signed else f"{abs(value) * 100:.1f} points"
