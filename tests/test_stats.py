"""The statistics behind every verdict, against values worked out by hand and against scipy and
scikit-learn (dev extras, used only here) on fixed data and on hypothesis' open-ended inputs."""

from __future__ import annotations

import math
import warnings
from itertools import accumulate

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

import promptvc.stats
from promptvc.stats import (
    bootstrap_ci,
    cases_needed,
    cohen_kappa,
    fisher_worse_p,
    holm,
    mcnemar_p,
    pearson,
    seed_of,
    sign_flip_p,
    sign_test_p,
    spearman,
    wilson,
    z_of,
)

# Multiples of 1/4 are exact in binary: sums of them tie exactly, as a judge's scores do, so the
# comparison with scipy is about the tests themselves and not about rounding.
QUARTERS = st.integers(-8, 8).map(lambda k: k / 4)
SCORES = st.integers(1, 5)


def scipy_sign_flip_p(units: list[float]) -> float:
    """scipy's exact paired permutation test: every sign pattern of the units, one-sided."""
    result = scipy_stats.permutation_test(
        (np.array(units, dtype=float),),
        np.mean,
        permutation_type="samples",
        alternative="less",
        n_resamples=np.inf,
        vectorized=True,
    )
    return float(result.pvalue)


def lattice_sign_flip_p(units: list[float], step: float) -> float:
    """The exact one-sided sign-flip p-value of units on a lattice (multiples of `step`), by
    counting sign patterns per integer sum: independent of both scipy and promptvc."""
    ways = {0: 1}
    for unit in units:
        k = round(unit / step)
        assert k * step == unit
        following: dict[int, int] = {}
        for total, count in ways.items():
            for signed in (k, -k):
                following[total + signed] = following.get(total + signed, 0) + count
        ways = following
    observed = sum(round(u / step) for u in units)
    return sum(c for total, c in ways.items() if total <= observed) / 2 ** len(units)


def scipy_bootstrap(deltas: list[float], seed: int) -> tuple[float, float]:
    result = scipy_stats.bootstrap(
        (np.array(deltas),),
        np.mean,
        method="percentile",
        n_resamples=10_000,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm_adjusted(pvalues: list[float]) -> list[float]:
    """Holm's adjusted p-values, the textbook way: sorted ascending, the i-th multiplied by the
    number of hypotheses left, made monotone, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    scaled = [min(1.0, (m - rank) * pvalues[i]) for rank, i in enumerate(order)]
    adjusted = [0.0] * m
    for i, value in zip(order, accumulate(scaled, max), strict=True):
        adjusted[i] = value
    return adjusted


# --- seeds and quantiles ---------------------------------------------------------------------


def test_a_seed_depends_on_every_key_and_where_each_ends():
    assert seed_of("base", "head") == seed_of("base", "head")
    assert seed_of("base", "head") != seed_of("head", "base")
    assert seed_of("ab", "c") != seed_of("a", "bc")
    assert 0 <= seed_of("x") < 2**64


def test_z_of_the_usual_levels():
    assert z_of(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert z_of(0.95) == pytest.approx(1.644854, abs=1e-6)


# --- Wilson ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),  # by hand from the formula
        (10, 10, 0.7225, 1.0),
        (3, 5, 0.2307, 0.8824),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Table I, the score method
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_hand_and_published_values(successes, n, low, high):
    assert wilson(successes, n) == pytest.approx((low, high), abs=5e-5)


def test_wilson_of_nothing_is_the_whole_range():
    assert wilson(0, 0) == (0.0, 1.0)


@given(n=st.integers(1, 2000), share=st.floats(0, 1), level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_scipy(n, share, level):
    successes = round(share * n)
    expected = scipy_stats.binomtest(successes, n).proportion_ci(level, method="wilson")
    low, high = wilson(successes, n, level)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert 0.0 <= low <= successes / n <= high <= 1.0


# --- McNemar and the sign test ------------------------------------------------------------------


def test_mcnemar_by_hand():
    assert mcnemar_p(4, 1) == pytest.approx(6 / 32)  # P(at least 4 of 5 coin tosses down)
    assert mcnemar_p(0, 3) == 1.0
    assert mcnemar_p(3, 0) == pytest.approx(1 / 8)
    assert mcnemar_p(0, 0) == 1.0


@given(worse=st.integers(0, 400), better=st.integers(0, 400))
def test_mcnemar_and_sign_test_match_scipys_binomial_test(worse, better):
    assume(worse + better > 0)
    expected = scipy_stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue
    assert mcnemar_p(worse, better) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert sign_test_p(worse, better) == mcnemar_p(worse, better)
    assert 0.0 < mcnemar_p(worse, better) <= 1.0


# --- the sign-flip permutation test -----------------------------------------------------------


def test_sign_flip_by_hand():
    assert sign_flip_p([-1, -1, -1], seed=0) == 1 / 8  # only all three down is as low
    assert sign_flip_p([-2, 1], seed=0) == 1 / 2  # sums -3, -1, 1, 3; observed -1
    assert sign_flip_p([-1, 0, 0], seed=0) == 1 / 2  # zeros carry no sign
    assert sign_flip_p([1, 1], seed=0) == 1.0
    assert sign_flip_p([0, 0, 0], seed=0) == 1.0
    assert sign_flip_p([], seed=0) == 1.0


@pytest.mark.parametrize(
    "deltas",
    [
        [-0.5, -0.25, 0.25, -1.0, -0.5, 0.0, -0.75, 0.5],  # ties, a zero
        [-1.0] * 6 + [1.0] * 3 + [0.0] * 4,  # pass/fail flips
        [-0.25, -0.25, -0.25, 0.25, 0.5, -0.5, -0.5, 0.5, -0.75, 0.75, -1.0, 0.0],  # repeats
        [-0.031, 0.2, -0.17, -0.44, 0.09, -0.013, -0.27, 0.058, -0.6, 0.12],  # all distinct
        [-0.2, -0.4, -0.2, -0.2, 0.2, -0.4, 0.4, -0.6, -0.2, 0.2, -0.2, 0.0, -0.4, -0.2, 0.2, -0.2],
        [(-1) ** i * (i + 1) / 7 - 0.1 for i in range(16)],  # sixteen distinct magnitudes
    ],
)
def test_sign_flip_exact_matches_scipy(deltas):
    assert sign_flip_p(deltas, seed=1) == pytest.approx(scipy_sign_flip_p(deltas), abs=1e-12)


@pytest.mark.parametrize(
    "deltas",
    [
        [-0.25] * 20,  # the most that is enumerated, all tied
        [(-1) ** (i // 3) * (i + 1) / 8 for i in range(20)],  # twenty distinct magnitudes
        [-0.5, 0.25, -0.75, 0.0, -0.25, 0.5, -1.0, -0.25, 0.75, -0.5] * 2,
    ],
)
def test_sign_flip_exact_counts_every_sign_pattern_of_twenty_units(deltas):
    nonzero = [d for d in deltas if d]
    assert sign_flip_p(deltas, seed=1) == pytest.approx(
        lattice_sign_flip_p(nonzero, 1 / 8), abs=1e-12
    )


@settings(max_examples=150, deadline=None)
@given(
    deltas=st.lists(QUARTERS, min_size=2, max_size=12),
    shift=st.sampled_from([0.0, 0.25, 0.5, -0.25]),
)
def test_sign_flip_exact_matches_scipy_with_ties_zeros_and_shift(deltas, shift):
    shifted = [d + shift for d in deltas]
    assume(any(shifted))  # scipy does not define a p-value when every unit is zero
    ours = sign_flip_p(deltas, seed=7, shift=shift)
    assert ours == pytest.approx(scipy_sign_flip_p(shifted), abs=1e-12)
    assert 0.0 < ours <= 1.0


@settings(max_examples=150, deadline=None)
@given(deltas=st.lists(QUARTERS, max_size=20), shift=st.sampled_from([0.0, 0.25, -0.5]))
def test_sign_flip_exact_matches_a_count_of_sign_patterns(deltas, shift):
    shifted = [d + shift for d in deltas if d + shift]
    ours = sign_flip_p(deltas, seed=7, shift=shift)
    assert ours == pytest.approx(lattice_sign_flip_p(shifted, 0.25), abs=1e-12)
    assert 0.0 < ours <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    cases=st.lists(
        st.tuples(QUARTERS, st.one_of(st.none(), st.sampled_from("abcdef"))), max_size=24
    ),
    shift=st.sampled_from([0.0, 0.25]),
)
def test_sign_flip_flips_whole_clusters(cases, shift):
    """A cluster's cases move together: the units are the clusters' sums (each shifted once per
    case), and a case without a cluster is a unit of its own."""
    deltas = [d for d, _ in cases]
    clusters = [c for _, c in cases]
    units: dict[object, float] = {}
    for i, (d, c) in enumerate(cases):
        key = c if c is not None else i
        units[key] = units.get(key, 0.0) + d + shift
    assume(any(units.values()) and 2 <= len(units) <= 12)
    ours = sign_flip_p(deltas, seed=3, shift=shift, clusters=clusters)
    assert ours == pytest.approx(scipy_sign_flip_p(list(units.values())), abs=1e-12)


def test_clusters_of_one_case_each_are_no_clusters_at_all():
    deltas = [-0.5, 0.25, -0.25, -1.0, 0.0, 0.5, -0.75]
    named = [f"c{i}" for i in range(len(deltas))]
    assert sign_flip_p(deltas, seed=1, clusters=named) == sign_flip_p(deltas, seed=1)
    assert sign_flip_p(deltas, seed=1, clusters=[None] * 7) == sign_flip_p(deltas, seed=1)


def test_the_exact_path_is_fast_with_twenty_distinct_deltas():
    """2^20 sign patterns: enumerated naively this took seconds per set."""
    import time

    deltas = np.random.default_rng(5).normal(-0.05, 0.2, size=20).tolist()
    started = time.perf_counter()
    sign_flip_p(deltas, seed=1)
    assert time.perf_counter() - started < 0.2


def continuous_deltas(n: int, seed: int = 2) -> list[float]:
    return np.random.default_rng(seed).normal(-0.03, 0.2, size=n).round(6).tolist()


@pytest.mark.parametrize(
    "deltas",
    [
        continuous_deltas(40),  # distinct magnitudes
        [-1.0] * 17 + [1.0] * 13 + [0.0] * 10,  # one magnitude, a few units
        [-1.0] * 260 + [1.0] * 240 + [0.0] * 300,  # one magnitude, many units
        [d / 4 for d in np.random.default_rng(9).integers(-4, 4, size=300)],  # a lattice
    ],
)
def test_sign_flip_monte_carlo_is_seeded_and_close_to_scipy_and_to_the_exact_value(deltas):
    p = sign_flip_p(deltas, seed=11)
    assert p == sign_flip_p(deltas, seed=11)
    scipy_p = scipy_stats.permutation_test(
        (np.array(deltas),),
        np.mean,
        permutation_type="samples",
        alternative="less",
        n_resamples=10_000,
        vectorized=True,
        rng=np.random.default_rng(11),
    ).pvalue
    assert p == pytest.approx(scipy_p, abs=0.02)
    if sum(1 for d in deltas if d) <= 44:  # small enough to enumerate, meeting in the middle
        assert p == pytest.approx(sign_flip_p(deltas, seed=11, exact_up_to=44), abs=0.02)


@pytest.mark.parametrize(
    "deltas",
    [
        [-1.0] * 90 + [1.0] * 70 + [-0.5] * 80 + [0.5] * 60 + [0.25] * 10,
        continuous_deltas(120, seed=6),
    ],
)
def test_both_ways_of_flipping_signs_agree(deltas, monkeypatch):
    """A binomial count of positive signs per magnitude, or a random bit per unit: the same
    distribution, so the same p-value up to Monte Carlo error."""
    monkeypatch.setattr(promptvc.stats, "BINOMIAL_ABOVE", 0)
    by_binomial = sign_flip_p(deltas, seed=1)
    monkeypatch.setattr(promptvc.stats, "BINOMIAL_ABOVE", 10**9)
    by_bits = sign_flip_p(deltas, seed=2)  # another seed: the first one's null is kept
    assert by_binomial == pytest.approx(by_bits, abs=0.02)


@settings(max_examples=40, deadline=None)
@given(deltas=st.lists(st.one_of(QUARTERS, st.floats(-1, 1)), min_size=21, max_size=90))
def test_monte_carlo_p_values_are_probabilities(deltas):
    p = sign_flip_p(deltas, seed=2, resamples=500)
    assert 1 / 501 <= p <= 1.0


def test_a_drop_and_a_gain_are_judged_against_the_same_null_distribution():
    deltas = continuous_deltas(80, seed=12)
    worse = sign_flip_p(deltas, seed=5)
    better = sign_flip_p([-d for d in deltas], seed=5)
    # P(T <= t) + P(T <= -t) = 1 for a symmetric null without ties, up to Monte Carlo error
    assert worse + better == pytest.approx(1, abs=0.02)
    assert sign_flip_p(deltas, seed=5) == worse


def test_sign_flip_monte_carlo_counts_ties_as_at_least_as_extreme():
    """15 down and 15 up: the observed sum is 0, and half the null mass sits exactly there."""
    exact = scipy_stats.binom.cdf(15, 30, 0.5)
    assert sign_flip_p([-1.0] * 15 + [1.0] * 15, seed=4) == pytest.approx(exact, abs=0.02)


def test_sign_flip_monte_carlo_is_never_zero():
    p = sign_flip_p([-1.0] * 30, seed=1, resamples=1000)
    assert p == pytest.approx(1 / 1001)
    assert sign_flip_p(continuous_deltas(50, seed=3), seed=1) != sign_flip_p(
        continuous_deltas(50, seed=3), seed=2
    )


# --- the bootstrap interval -------------------------------------------------------------------


def sixty_cases() -> list[float]:
    return continuous_deltas(60, seed=21)


def test_bootstrap_is_reproducible_from_its_seed():
    deltas = sixty_cases()
    assert bootstrap_ci(deltas, seed=5) == bootstrap_ci(deltas, seed=5)
    assert bootstrap_ci(deltas, seed=5) != bootstrap_ci(deltas, seed=6)


@pytest.mark.parametrize(
    "deltas",
    [
        sixty_cases(),
        [-1.0] * 9 + [1.0] * 3 + [0.0] * 48,  # pass/fail flips
        [-1.0] * 50 + [1.0] * 20 + [0.0] * 330,  # many cases, three values
        [round(d * 20) / 20 for d in continuous_deltas(200, seed=8)],  # steps of 0.05
        continuous_deltas(61, seed=22),  # an odd number of cases: the last pick is a single
        continuous_deltas(700, seed=23),  # too many for a table of pairs
    ],
)
def test_bootstrap_is_close_to_scipys_percentile_interval(deltas):
    low, high = bootstrap_ci(deltas, seed=3)
    expected = scipy_bootstrap(deltas, seed=3)
    assert (low, high) == pytest.approx(expected, abs=0.02)
    assert low <= float(np.mean(deltas)) <= high


@pytest.mark.parametrize(
    ("deltas", "clusters"),
    [
        ([-1.0] * 30 + [1.0] * 10 + [0.0] * 60, None),
        ([-0.5, 0.0, 0.5, 0.0] * 30, [f"c{i // 3}" for i in range(120)]),  # clusters of 3
        ([-1.0, 0.0, 0.0, 1.0, 0.0] * 24, [f"c{i % 17}" if i % 4 else None for i in range(120)]),
    ],
)
def test_both_ways_of_resampling_agree(deltas, clusters, monkeypatch):
    """Counts of each kind of unit, or units picked by index: the same distribution."""
    monkeypatch.setattr(promptvc.stats, "UNITS_PER_KIND", 0)
    by_kind = bootstrap_ci(deltas, seed=1, clusters=clusters)
    monkeypatch.setattr(promptvc.stats, "UNITS_PER_KIND", 10**9)
    by_index = bootstrap_ci(deltas, seed=1, clusters=clusters)
    assert by_kind == pytest.approx(by_index, abs=0.02)


def test_bootstrap_by_hand_on_two_cases():
    """Means of two picks of {0, 1}: 0, 0.5, 1 with chances 1/4, 1/2, 1/4."""
    assert bootstrap_ci([0.0, 1.0], seed=1) == (0.0, 1.0)
    assert bootstrap_ci([0.0, 1.0], seed=1, level=0.4) == (0.5, 0.5)


def test_bootstrap_of_identical_deltas_has_no_width():
    for n in (1, 7, 500):
        low, high = bootstrap_ci([0.3] * n, seed=2)
        assert low == high == pytest.approx(0.3)


def test_bootstrap_of_nothing_is_nan():
    assert all(math.isnan(x) for x in bootstrap_ci([], seed=1))


def test_a_cluster_of_alike_cases_is_one_piece_of_evidence_not_six():
    """Ten conversations of six cases each, every case of a conversation with the same delta: the
    interval resampling conversations is as wide as ten cases give, not sixty."""
    per_cluster = continuous_deltas(10, seed=4)
    deltas = [d for d in per_cluster for _ in range(6)]
    clusters = [f"conversation-{i}" for i in range(10) for _ in range(6)]
    low, high = bootstrap_ci(deltas, seed=9, clusters=clusters)
    naive_low, naive_high = bootstrap_ci(deltas, seed=9)
    assert high - low > 1.8 * (naive_high - naive_low)
    assert (low, high) == pytest.approx(scipy_bootstrap(per_cluster, seed=9), abs=0.02)


def test_clusters_of_different_sizes_weigh_their_cases():
    """The mean of a resample is its cases' mean, not the mean of its clusters' means."""
    deltas = [1.0, 1.0, 1.0, 1.0, 0.0]
    low, high = bootstrap_ci(deltas, seed=1, clusters=["a", "a", "a", "a", "b"], level=0.4)
    assert low == high == pytest.approx(0.8)  # both picks a, or a and b: 4/5 or 4/5+0/1 -> 0.8


def test_unclustered_cases_resample_alike_with_or_without_a_cluster_list():
    deltas = sixty_cases()
    assert bootstrap_ci(deltas, seed=4, clusters=[None] * 60) == bootstrap_ci(deltas, seed=4)


def test_a_wider_level_gives_a_wider_interval():
    deltas = sixty_cases()
    low90, high90 = bootstrap_ci(deltas, seed=1, level=0.9)
    low99, high99 = bootstrap_ci(deltas, seed=1, level=0.99)
    assert low99 < low90 < high90 < high99


@settings(max_examples=60, deadline=None)
@given(deltas=st.lists(st.floats(-1, 1, allow_subnormal=False), min_size=1, max_size=120))
def test_bootstrap_intervals_are_ordered_and_hold_the_mean(deltas):
    intervals = [bootstrap_ci(deltas, seed=seed, resamples=2000) for seed in range(10)]
    mean = sum(deltas) / len(deltas)
    assert all(low <= high for low, high in intervals)
    assert all(
        min(deltas) - 1e-12 <= low and high <= max(deltas) + 1e-12 for low, high in intervals
    )
    holding = sum(low - 1e-12 <= mean <= high + 1e-12 for low, high in intervals)
    assert holding >= 9


# --- Fisher's exact test -------------------------------------------------------------------------


def test_fisher_by_hand():
    # 10/10 before, 5/10 after: of 15 passes, the head got 5 or fewer only as C(10,5)C(10,10) ways
    assert fisher_worse_p(10, 10, 5, 10) == pytest.approx(252 / 15504)
    assert fisher_worse_p(5, 10, 10, 10) == 1.0
    assert fisher_worse_p(0, 0, 0, 0) == 1.0


@settings(max_examples=300)
@given(
    n_before=st.integers(0, 120),
    n_after=st.integers(0, 120),
    before=st.floats(0, 1),
    after=st.floats(0, 1),
)
def test_fisher_matches_scipy(n_before, n_after, before, after):
    assume(n_before + n_after > 0)
    passed_before, passed_after = round(before * n_before), round(after * n_after)
    table = [[passed_after, n_after - passed_after], [passed_before, n_before - passed_before]]
    expected = scipy_stats.fisher_exact(table, alternative="less").pvalue
    ours = fisher_worse_p(passed_before, n_before, passed_after, n_after)
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert 0.0 < ours <= 1.0


# --- Holm --------------------------------------------------------------------------------------


def test_holm_by_hand():
    # sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop there
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.04, 0.01], 0.05) == [True, True]  # 0.01 <= 0.025, then 0.04 <= 0.05
    assert holm([0.03, 0.03], 0.05) == [False, False]
    assert holm([], 0.05) == []


@given(
    pvalues=st.lists(st.floats(0, 1, allow_subnormal=False), max_size=30),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_holm_rejects_what_the_adjusted_p_values_reject(pvalues, alpha):
    m = len(pvalues)
    # a p-value within rounding of a boundary alpha/k may land on either side of it
    assume(
        all(abs(p - alpha / k) > 1e-12 for p in pvalues for k in range(1, m + 1))
        and all(abs(p * k - alpha) > 1e-12 for p in pvalues for k in range(1, m + 1))
    )
    assert holm(pvalues, alpha) == [p <= alpha for p in holm_adjusted(pvalues)]


# --- Cohen's kappa ------------------------------------------------------------------------------


def test_kappa_by_hand():
    # observed agreement 3/4, by chance (2*1 + 2*3)/16 = 1/2
    assert cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2], [1, 2]) == pytest.approx(0.5)
    # quadratic: disagreement 1/3 seen against 15/9 by chance
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], "quadratic") == pytest.approx(0.8)


def test_kappa_is_nan_where_it_is_undefined():
    assert math.isnan(cohen_kappa([], [], [1, 2, 3]))
    assert math.isnan(cohen_kappa([3, 3], [3, 3], [1, 2, 3, 4, 5]))
    assert math.isnan(cohen_kappa([3, 3], [3, 3], [1, 2, 3, 4, 5], "quadratic"))
    assert math.isnan(cohen_kappa([1, 1], [1, 1], [1], "quadratic"))


def test_kappa_names_a_rating_outside_its_labels():
    with pytest.raises(ValueError, match="6 is not one of the labels"):
        cohen_kappa([1, 6], [1, 2], [1, 2, 3, 4, 5])


def sklearn_kappa(a: list[int], b: list[int], weights: str | None) -> float:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights=weights))


@settings(max_examples=300)
@given(
    pairs=st.lists(st.tuples(SCORES, SCORES), min_size=1, max_size=60),
    weights=st.sampled_from([None, "quadratic", "linear"]),
)
def test_kappa_matches_sklearn(pairs, weights):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    expected = sklearn_kappa(a, b, weights)
    ours = cohen_kappa(a, b, [1, 2, 3, 4, 5], weights)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-9)


@given(ratings=st.lists(SCORES, min_size=1, max_size=40))
def test_kappa_of_identical_ratings_is_one(ratings):
    assume(len(set(ratings)) > 1)
    assert cohen_kappa(ratings, ratings, [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert cohen_kappa(ratings, ratings, [1, 2, 3, 4, 5], "quadratic") == pytest.approx(1.0)


# --- Spearman and Pearson -------------------------------------------------------------------


def test_spearman_by_hand():
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # ties share their average rank: [1, 2.5, 2.5, 4] against [1, 2, 3, 4]
    assert spearman([10, 20, 20, 30], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert math.isnan(spearman([1], [2]))
    assert math.isnan(spearman([2, 2, 2], [1, 2, 3]))


def test_pearson_of_a_constant_is_nan_even_when_its_mean_does_not_round_trip():
    assert math.isnan(pearson([0.1, 0.1, 0.1], [1.0, 2.0, 3.0]))


def scipy_or_nan(function, a, b) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(function(a, b).statistic)


@settings(max_examples=200)
@given(pairs=st.lists(st.tuples(SCORES, st.integers(0, 9)), min_size=2, max_size=50))
def test_spearman_matches_scipy_with_ties(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    expected = scipy_or_nan(scipy_stats.spearmanr, a, b)
    if math.isnan(expected):
        assert math.isnan(spearman(a, b))
    else:
        assert spearman(a, b) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=200)
@given(
    pairs=st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_subnormal=False), st.integers(-5, 5)),
        min_size=2,
        max_size=50,
    )
)
def test_pearson_matches_scipy(pairs):
    a, b = [x for x, _ in pairs], [float(y) for _, y in pairs]
    assume(len(set(a)) > 1 or len(set(b)) > 1)
    expected = scipy_or_nan(scipy_stats.pearsonr, a, b)
    if math.isnan(expected):
        assert math.isnan(pearson(a, b))
    else:
        assert pearson(a, b) == pytest.approx(expected, abs=1e-7)


# --- power -----------------------------------------------------------------------------------


def test_cases_needed_by_hand():
    # ((1.645 + 0.842) * 1 / 0.5)^2 = 24.7 -> 25 cases
    assert cases_needed(1.0, 0.5) == 25
    assert cases_needed(0.3, 0.1, alpha=0.05, power=0.9) == 78  # ((1.645 + 1.282) * 3)^2 = 77.1


def test_cases_needed_grows_as_the_effect_shrinks():
    needed = [cases_needed(0.25, effect) for effect in (0.2, 0.1, 0.05, 0.02, 0.01)]
    assert needed == sorted(needed) and len(set(needed)) == len(needed)
    assert cases_needed(0.25, 0.05, power=0.9) > cases_needed(0.25, 0.05, power=0.8)


def test_cases_needed_has_no_answer_without_an_effect_or_a_spread():
    assert cases_needed(0.2, 0.0) is None
    assert cases_needed(0.0, 0.1) is None
    assert cases_needed(math.nan, 0.1) is None
    assert cases_needed(math.inf, 0.1) is None


def test_pearson_of_two_points_one_ulp_apart_is_exact():
    """Found by hypothesis: the mean of two neighbouring floats is not a float, so the deviations
    came out 0 and 1 ulp and the correlation 0.707; two points are always on a line."""
    assert pearson([-1000.0, -999.9999999999999], [0, 1]) == 1.0
    assert pearson([1.0, 2.0], [3.0, 1.0]) == -1.0
