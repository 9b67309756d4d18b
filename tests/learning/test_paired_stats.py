"""The gate's statistics against values worked out by hand and by scipy."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from bot.learning.paired_stats import (
    below_half_p,
    binomial_tail_at_least,
    clopper_pearson,
    holm,
    mcnemar_worse_p,
    paired_bootstrap,
)


def test_mcnemar_is_the_exact_binomial_tail_of_the_discordant_pairs() -> None:
    assert mcnemar_worse_p(13, 0) == 1 / 2**13  # a whole 13-utterance intent broken
    assert mcnemar_worse_p(2, 0) == 0.25  # two flips: a one in four chance
    assert mcnemar_worse_p(8, 2) == (45 + 10 + 1) / 1024
    assert mcnemar_worse_p(0, 0) == 1.0  # no discordant pairs: no evidence at all
    assert mcnemar_worse_p(0, 7) == 1.0
    assert mcnemar_worse_p(5, 5) == pytest.approx(638 / 1024)


@pytest.mark.parametrize(("k", "n"), [(1, 1), (3, 7), (30, 45), (200, 400), (401, 416)])
def test_binomial_tail_matches_scipy(k: int, n: int) -> None:
    assert binomial_tail_at_least(k, n) == pytest.approx(binom.sf(k - 1, n, 0.5), rel=1e-12)
    assert binomial_tail_at_least(k, n, 0.3) == pytest.approx(binom.sf(k - 1, n, 0.3), rel=1e-9)


def test_binomial_tail_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        binomial_tail_at_least(-1, 3)


def test_below_half_is_the_lower_tail() -> None:
    assert below_half_p(0, 5) == 1 / 32
    assert below_half_p(1, 5) == 6 / 32
    assert below_half_p(5, 5) == 1.0


def test_holm_compares_the_smallest_p_value_with_alpha_over_m() -> None:
    result = holm({"a": 0.01, "b": 0.04, "c": 0.03}, 0.05)
    assert {name: r.rejected for name, r in result.items()} == {"a": True, "b": False, "c": False}
    assert result["a"].adjusted == pytest.approx(0.03)
    assert result["c"].adjusted == pytest.approx(0.06)
    assert result["b"].adjusted == pytest.approx(0.06)  # monotone: never below an earlier one


def test_holm_stops_at_the_first_failure() -> None:
    # z alone would pass alpha, but the step-down stops at x, which fails alpha/3.
    result = holm({"x": 0.02, "y": 0.024, "z": 0.026}, 0.05)
    assert not any(r.rejected for r in result.values())


def test_holm_with_one_test_is_the_test_itself() -> None:
    only = holm({"only": 0.049}, 0.05)["only"]
    assert only.adjusted == 0.049 and only.rejected


def test_clopper_pearson_known_values() -> None:
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10))
    low, high = clopper_pearson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.1871, 0.8129)
    low, high = clopper_pearson(20, 20)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 20))


TRUTH = ["a"] * 13 + ["b"] * 13 + ["c"] * 13
PRODUCTION = TRUTH[:]
CANDIDATE = ["b"] * 5 + ["a"] * 8 + ["b"] * 13 + ["c"] * 12 + ["a"]


def bootstrap(seed: int, candidate: list[str] = CANDIDATE) -> object:
    return paired_bootstrap(
        TRUTH, PRODUCTION, candidate, ["a", "b", "c"], resamples=500, confidence=0.95, seed=seed
    )


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    assert bootstrap(7) == bootstrap(7)
    assert bootstrap(7) != bootstrap(8)


def test_bootstrap_intervals_bracket_the_observed_differences() -> None:
    result = paired_bootstrap(
        TRUTH, PRODUCTION, CANDIDATE, ["a", "b", "c"], resamples=1000, confidence=0.95, seed=1
    )
    observed = -6 / 39
    assert result.accuracy.low < observed < result.accuracy.high < 0
    a = result.intent_accuracy["a"]
    assert a.low < -5 / 13 < a.high < 0
    # b keeps every utterance right but gains five wrong predictions: its F1 drops, its accuracy not.
    assert result.intent_accuracy["b"].low == result.intent_accuracy["b"].high == 0.0
    assert result.intent_f1["b"].high < 0


def test_identical_predictions_give_a_zero_interval() -> None:
    result = bootstrap(3, PRODUCTION)
    assert (result.accuracy.low, result.accuracy.high) == (0.0, 0.0)  # type: ignore[attr-defined]


def test_bootstrap_keeps_each_intents_size() -> None:
    # With only intent a's utterances changed, every resample still holds 13 of a: a whole
    # intent broken is exactly -1 in every resample.
    broken = ["b"] * 13 + TRUTH[13:]
    result = paired_bootstrap(
        TRUTH, PRODUCTION, broken, ["a", "b", "c"], resamples=200, confidence=0.95, seed=0
    )
    assert result.intent_accuracy["a"].low == result.intent_accuracy["a"].high == -1.0
    assert math.isclose(result.accuracy.low, -1 / 3) and math.isclose(result.accuracy.high, -1 / 3)
