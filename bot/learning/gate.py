"""The promotion gate: a candidate must be at least as good as production on the same data.

Both adapters are scored on the fixed held-out split and on a replay of staff-labelled logged
turns. The report lists every utterance whose prediction changed (fixed or newly broken).
Promotion is refused when held-out accuracy drops, or when any intent's F1 drops by more than
``max_f1_drop``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.intents.classifier import Classifier
from bot.intents.dataset import OUT_OF_SCOPE, Example
from bot.intents.evaluate import ScoredExample, metrics, score


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
    max_f1_drop: float,
) -> GateResult:
    held_out = [e for e in held_out if e.intent != OUT_OF_SCOPE]
    replay = [e for e in replay if e.intent != OUT_OF_SCOPE]
    if not held_out:
        raise ValueError("the held-out split is empty: nothing to compare the adapters on")
    cand_held, prod_held = score(candidate, held_out), score(production, held_out)
    cand_metrics = metrics(cand_held, candidate.labels, candidate.out_of_scope_threshold)
    prod_metrics = metrics(prod_held, production.labels, production.out_of_scope_threshold)
    reasons = []
    if cand_metrics["accuracy"] < prod_metrics["accuracy"]:
        reasons.append(
            f"held-out accuracy drops from {prod_metrics['accuracy']:.4f} to {cand_metrics['accuracy']:.4f}"
        )
    f1_drops = _f1_drops(cand_metrics["per_intent"], prod_metrics["per_intent"])
    for intent, drop in f1_drops.items():
        if drop > max_f1_drop:
            reasons.append(f"F1 of {intent} drops by {drop:.4f} (allowed {max_f1_drop:.4f})")
    report: dict[str, Any] = {
        "candidate": candidate.version,
        "production": production.version,
        "held_out": {
            "examples": len(held_out),
            "candidate_accuracy": cand_metrics["accuracy"],
            "production_accuracy": prod_metrics["accuracy"],
            "candidate_macro_f1": cand_metrics["macro_f1"],
            "production_macro_f1": prod_metrics["macro_f1"],
            "f1_drops": f1_drops,
            "changes": changed_predictions(cand_held, prod_held),
        },
    }
    if replay:
        cand_replay, prod_replay = score(candidate, replay), score(production, replay)
        report["replay"] = {
            "examples": len(replay),
            "candidate_accuracy": _accuracy(cand_replay),
            "production_accuracy": _accuracy(prod_replay),
            "changes": changed_predictions(cand_replay, prod_replay),
        }
    report["passed"] = not reasons
    report["reasons"] = reasons
    return GateResult(not reasons, reasons, report)


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


def _f1_drops(candidate: dict[str, Any], production: dict[str, Any]) -> dict[str, float]:
    drops = {}
    for intent, prod_row in production.items():
        if prod_row["support"] == 0:
            continue
        cand_f1 = candidate.get(intent, {"f1": 0.0})["f1"]
        drop = round(prod_row["f1"] - cand_f1, 4)
        if drop > 0:
            drops[intent] = drop
    return drops


def _accuracy(scored: list[ScoredExample]) -> float:
    return round(sum(s.correct for s in scored) / len(scored), 4) if scored else 0.0
