"""Score a classifier on labelled examples: accuracy, macro-F1, per-intent figures, calibration
(expected calibration error), the most-confused intent pairs, and out-of-scope detection."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from bot.intents.classifier import Classifier
from bot.intents.dataset import OUT_OF_SCOPE, Example
from bot.intents.model import Prediction

RELIABILITY_BINS = 10
CONFUSED_PAIRS = 10
EXAMPLES_PER_PAIR = 3


@dataclass(frozen=True)
class ScoredExample:
    example: Example
    prediction: Prediction

    @property
    def in_scope(self) -> bool:
        return self.example.intent != OUT_OF_SCOPE

    @property
    def correct(self) -> bool:
        return self.prediction.intent == self.example.intent


def score(classifier: Classifier, examples: list[Example]) -> list[ScoredExample]:
    predictions = classifier.classify([example.text for example in examples])
    return [ScoredExample(e, p) for e, p in zip(examples, predictions, strict=True)]


def metrics(scored: list[ScoredExample], labels: list[str], threshold: float) -> dict[str, Any]:
    """Metrics of ``scored``; in-scope figures ignore the threshold, the out-of-scope ones use it."""
    in_scope = [s for s in scored if s.in_scope]
    if not in_scope:
        raise ValueError("no in-scope examples to evaluate")
    truth = [s.example.intent for s in in_scope]
    predicted = [s.prediction.intent for s in in_scope]
    present = sorted(set(truth) | (set(predicted) & set(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=present, zero_division=0
    )
    per_intent = {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(n),
        }
        for label, p, r, f, n in zip(present, precision, recall, f1, support, strict=True)
    }
    supported_f1 = [float(f) for f, n in zip(f1, support, strict=True) if n > 0]
    result: dict[str, Any] = {
        "accuracy": round(sum(s.correct for s in in_scope) / len(in_scope), 4),
        "macro_f1": round(float(np.mean(supported_f1)), 4),
        "examples": len(in_scope),
        "per_intent": per_intent,
        "calibration": calibration_metrics(in_scope),
        "confused_pairs": confused_pairs(in_scope),
    }
    out_of_scope = [s for s in scored if not s.in_scope]
    if out_of_scope:
        result["out_of_scope"] = out_of_scope_metrics(in_scope, out_of_scope, threshold)
    return result


def out_of_scope_metrics(
    in_scope: list[ScoredExample], out_of_scope: list[ScoredExample], threshold: float
) -> dict[str, float | int]:
    confidences = [s.prediction.confidence for s in in_scope + out_of_scope]
    is_oos = [0] * len(in_scope) + [1] * len(out_of_scope)
    # Low confidence is the out-of-scope signal, so the score is its negation.
    auroc = roc_auc_score(is_oos, [-c for c in confidences])
    accepted_correct = sum(s.correct and s.prediction.confidence >= threshold for s in in_scope)
    return {
        "examples": len(out_of_scope),
        "threshold": round(threshold, 4),
        "auroc": round(float(auroc), 4),
        "recall": round(
            sum(s.prediction.confidence < threshold for s in out_of_scope) / len(out_of_scope), 4
        ),
        "in_scope_accuracy": round(accepted_correct / len(in_scope), 4),
    }


def calibration_metrics(in_scope: list[ScoredExample], bins: int = RELIABILITY_BINS) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins, and each bin's figures (the
    reliability curve): how often the top intent is right against how sure the model was."""
    confidence = np.array([s.prediction.confidence for s in in_scope])
    correct = np.array([s.correct for s in in_scope], dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count == 0:
            continue
        mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
        ece += count / len(in_scope) * abs(accuracy - mean_confidence)
        rows.append(
            {
                "low": round(float(edges[b]), 2),
                "high": round(float(edges[b + 1]), 2),
                "count": count,
                "confidence": round(mean_confidence, 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return {"ece": round(ece, 4), "bins": rows}


def confused_pairs(
    in_scope: list[ScoredExample], top: int = CONFUSED_PAIRS, examples: int = EXAMPLES_PER_PAIR
) -> list[dict[str, Any]]:
    """The most frequent (true intent, predicted intent) mistakes, with a few of their utterances."""
    wrong = [s for s in in_scope if not s.correct]
    counts = Counter((s.example.intent, s.prediction.intent) for s in wrong)
    texts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in wrong:
        texts[(s.example.intent, s.prediction.intent)].append(s.example.text)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [
        {"intent": truth, "predicted": predicted, "count": n, "examples": texts[truth, predicted][:examples]}
        for (truth, predicted), n in ranked
    ]
