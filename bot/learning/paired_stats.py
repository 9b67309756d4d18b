"""Statistics for comparing two classifiers on the same utterances.

Exact tests only where the counts are small (McNemar's test is a binomial test on the
discordant pairs; the new-intent check is a binomial test against one half), Holm's step-down
correction when many intents are tested at once, Clopper-Pearson intervals for a proportion,
and a paired bootstrap, stratified by intent, for intervals of accuracy and F1 differences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta


def binomial_tail_at_least(successes: int, trials: int, probability: float = 0.5) -> float:
    """P(X >= successes) for X ~ Binomial(trials, probability), computed exactly."""
    if successes < 0 or trials < 0:
        raise ValueError("successes and trials must not be negative")
    if successes == 0:
        return 1.0
    if successes > trials:
        return 0.0
    if probability == 0.5:
        # Integers all the way: exact even where floating-point terms would underflow.
        return sum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2**trials
    return float(
        sum(
            math.comb(trials, k) * probability**k * (1 - probability) ** (trials - k)
            for k in range(successes, trials + 1)
        )
    )


def mcnemar_worse_p(broken: int, fixed: int) -> float:
    """One-sided exact McNemar p-value that the candidate is worse than production.

    ``broken``: utterances production gets right and the candidate wrong; ``fixed``: the
    reverse. Utterances both get right (or both wrong) say nothing about which is better. If
    both were equally good, each discordant utterance would fall either way with probability
    one half, so the p-value is the chance of at least ``broken`` of the discordant ones
    falling against the candidate.
    """
    return binomial_tail_at_least(broken, broken + fixed)


def below_half_p(correct: int, examples: int) -> float:
    """One-sided exact p-value that the true rate is below one half, given ``correct`` of
    ``examples``: P(X <= correct) for X ~ Binomial(examples, 1/2)."""
    return binomial_tail_at_least(examples - correct, examples)


@dataclass(frozen=True)
class HolmResult:
    adjusted: float
    rejected: bool


def holm(p_values: Mapping[str, float], alpha: float) -> dict[str, HolmResult]:
    """Holm's step-down correction: the chance of rejecting any true hypothesis is at most alpha.

    The smallest p-value is compared with alpha/m, the next with alpha/(m-1), and so on; the
    first one that fails stops the procedure. Adjusted p-values are monotone in the same order,
    so ``rejected`` is ``adjusted < alpha``.
    """
    ordered = sorted(p_values.items(), key=lambda item: (item[1], item[0]))
    count = len(ordered)
    result: dict[str, HolmResult] = {}
    running = 0.0
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (count - rank) * p))
        result[name] = HolmResult(running, running < alpha)
    return result


def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided (1 - alpha) interval for a binomial proportion."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials and trials > 0")
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class BootstrapIntervals:
    """Percentile intervals of candidate-minus-production differences."""

    accuracy: Interval
    intent_accuracy: dict[str, Interval]
    intent_f1: dict[str, Interval]


def paired_bootstrap(
    truth: Sequence[str],
    production: Sequence[str],
    candidate: Sequence[str],
    intents: Sequence[str],
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> BootstrapIntervals:
    """Resample utterances (with replacement, within each true intent, so every resample keeps
    the split's intent sizes) and keep each utterance's pair of predictions together.

    ``intents`` are the true intents to report; every label in ``truth`` must be one of them.
    The same seed gives the same intervals.
    """
    if not (len(truth) == len(production) == len(candidate)) or not truth:
        raise ValueError("truth and both predictions need the same, non-zero length")
    index = {intent: i for i, intent in enumerate(intents)}
    labels = np.array([index[t] for t in truth])
    weights = _stratified_weights(labels, len(intents), resamples, np.random.default_rng(seed))
    prod_correct = np.array([p == t for p, t in zip(production, truth, strict=True)], dtype=float)
    cand_correct = np.array([c == t for c, t in zip(candidate, truth, strict=True)], dtype=float)
    own = np.eye(len(intents))[labels]  # utterance x intent: its true intent
    support = own.sum(axis=0)

    def f1(predicted: Sequence[str], correct: np.ndarray) -> np.ndarray:
        said = np.array([[p == intent for intent in intents] for p in predicted], dtype=float)
        true_positives = weights @ (own * correct[:, None])
        predicted_count = weights @ said
        return np.asarray(2 * true_positives / np.maximum(predicted_count + support, 1e-12))

    accuracy_diff = weights @ (cand_correct - prod_correct) / len(truth)
    intent_diff = weights @ (own * (cand_correct - prod_correct)[:, None]) / np.maximum(support, 1)
    f1_diff = f1(candidate, cand_correct) - f1(production, prod_correct)
    tail = (1 - confidence) / 2 * 100
    quantiles = (tail, 100 - tail)
    overall = np.percentile(accuracy_diff, quantiles)
    by_intent = np.percentile(intent_diff, quantiles, axis=0)
    f1_by_intent = np.percentile(f1_diff, quantiles, axis=0)
    return BootstrapIntervals(
        Interval(float(overall[0]), float(overall[1])),
        {i: Interval(float(by_intent[0, k]), float(by_intent[1, k])) for i, k in index.items()},
        {i: Interval(float(f1_by_intent[0, k]), float(f1_by_intent[1, k])) for i, k in index.items()},
    )


def _stratified_weights(
    labels: np.ndarray, strata: int, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """resamples x utterances: how often each utterance is drawn in each resample."""
    weights = np.zeros((resamples, len(labels)))
    for stratum in range(strata):
        members = np.flatnonzero(labels == stratum)
        size = len(members)
        if size == 0:
            continue
        draws = rng.integers(0, size, size=(resamples, size))
        flat = (draws + np.arange(resamples)[:, None] * size).ravel()
        weights[:, members] = np.bincount(flat, minlength=resamples * size).reshape(resamples, size)
    return weights
