"""The statistics behind every verdict: intervals, paired tests, multiple-test control, agreement.

Pure functions on plain numbers. numpy is imported inside the functions that need it, so
importing this module costs nothing on the hook's no-op path. Resampling is seeded by the
caller (`seed_of` the two set keys), so the same comparison always prints the same figures.

Scores in promptvc often take few distinct values (pass/fail, a judge's 1-5): then resampling
works on the counts of each distinct value (a multinomial draw per resample) instead of on the
cases themselves, the same distribution for a fraction of the work. Means of repeated samples
and continuous scores take many values: then each resample picks case indices (and each
sign-flip resample a random bit per case), vectorised in blocks that stay in the CPU's cache.
The figures and the reasons for each choice: benchmarks/bench_stats.py.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

RESAMPLES = 10_000
EXACT_UP_TO = 20  # non-zero deltas: the sign-flip test enumerates every sign pattern up to this
# Drawing the count of one kind of unit for every resample costs about as much as picking 50 units
# by index (numpy's binomial with a per-resample n, against `integers` and a lookup; measured on
# the sets of benchmarks/bench_stats.py).
UNITS_PER_KIND = 50
# Above this many units, numpy draws a binomial count of positive signs in constant time (BTPE);
# below, its inversion costs more than a random bit per unit.
BINOMIAL_ABOVE = 64
# A table of every pair of units' sum, up to 2 MB (n <= 512): beyond, its lookups miss the cache.
PAIR_TABLE = 1 << 18
BLOCK = 1 << 16  # numbers drawn at once: what stays in the CPU's cache (2^21 is 40% slower)


def seed_of(*keys: str) -> int:
    """A resampling seed from the keys of what is compared: the same comparison, the same figures."""
    digest = hashlib.sha256("\0".join(keys).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def z_of(level: float) -> float:
    """The standard normal quantile at `level` (0.975 -> 1.96)."""
    return NormalDist().inv_cdf(level)


def wilson(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sensible at 0/n and n/n, unlike the normal one.
    `successes` may count halves (a pairwise tie is half a win)."""
    if n <= 0:
        return 0.0, 1.0
    z = z_of(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact arithmetic puts p inside; rounding can leave 0/n just outside (by 1e-18)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def _cluster_sums(
    deltas: Sequence[float], clusters: Sequence[str | None] | None
) -> tuple[list[float], list[int]]:
    """Per resampling unit: the sum of its deltas and how many it holds. A case without a cluster
    is its own unit."""
    if clusters is None:
        return [float(d) for d in deltas], [1] * len(deltas)
    sums: dict[object, float] = {}
    sizes: dict[object, int] = {}
    for i, (d, c) in enumerate(zip(deltas, clusters, strict=True)):
        unit: object = ("cluster", c) if c is not None else ("case", i)
        sums[unit] = sums.get(unit, 0.0) + float(d)
        sizes[unit] = sizes.get(unit, 0) + 1
    return list(sums.values()), list(sizes.values())


def bootstrap_ci(
    deltas: Sequence[float],
    *,
    seed: int,
    clusters: Sequence[str | None] | None = None,
    resamples: int = RESAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean delta, resampling cases (or whole clusters:
    a conversation's cases are not independent of each other)."""
    if len(deltas) == 0:
        return math.nan, math.nan
    import numpy as np

    sums, sizes = _cluster_sums(deltas, clusters)
    kinds = Counter(zip((round(s, 12) for s in sums), sizes, strict=True))
    rng = np.random.default_rng(seed)
    if (len(kinds) - 1) * UNITS_PER_KIND < len(sums):
        means = _means_by_kind(rng, kinds, resamples)
    else:
        means = _means_by_index(rng, np.array(sums), np.array(sizes, dtype=float), resamples)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _means_by_kind(rng: np.random.Generator, kinds: Counter, resamples: int) -> np.ndarray:
    """The mean delta per case of each resample, from how often each kind of unit (its delta sum
    and its size) is picked: one multinomial draw per resample."""
    import numpy as np

    values = np.array([s for s, _ in kinds], dtype=float)
    sizes = np.array([n for _, n in kinds], dtype=float)
    counts = np.array(list(kinds.values()), dtype=float)
    draws = _multinomial(rng, int(counts.sum()), counts, resamples)
    return (draws @ values) / (draws @ sizes)


def _multinomial(
    rng: np.random.Generator, n: int, counts: np.ndarray, resamples: int
) -> np.ndarray:
    """`resamples` draws of how often each kind of unit is picked in n picks with replacement,
    one binomial per kind conditioned on the kinds before it (vectorised over resamples)."""
    import numpy as np

    draws = np.zeros((resamples, len(counts)))
    left: int | np.ndarray = n  # a scalar n first: numpy's faster path, the same draws
    remaining = float(counts.sum())
    for i, count in enumerate(counts):
        share = min(1.0, count / remaining) if remaining > 0 else 0.0
        drawn = rng.binomial(left, share, size=resamples) if i < len(counts) - 1 else left
        draws[:, i] = drawn
        left = left - drawn
        remaining -= count
    return draws


def _means_by_index(
    rng: np.random.Generator, sums: np.ndarray, sizes: np.ndarray, resamples: int
) -> np.ndarray:
    """The mean delta per case of each resample, picking n units by index. In a small set, one
    draw in [0, n^2) is two independent picks (its quotient and remainder by n), looked up in a
    table of the n^2 pairs' sums: half the draws and half the lookups."""
    n = len(sums)
    same_size = bool((sizes == sizes[0]).all())
    tables = [sums] if same_size else [sums, sizes]
    if n * n <= PAIR_TABLE:
        pairs = [(t[:, None] + t).ravel() for t in tables]
        totals = _sums_of_picks(rng, pairs, n // 2, resamples)
        if n % 2:
            last = _sums_of_picks(rng, tables, 1, resamples)
            totals = [a + b for a, b in zip(totals, last, strict=True)]
    else:
        totals = _sums_of_picks(rng, tables, n, resamples)
    return totals[0] / (n * sizes[0] if same_size else totals[1])


def _sums_of_picks(
    rng: np.random.Generator, tables: list[np.ndarray], count: int, resamples: int
) -> list[np.ndarray]:
    """Per table, per resample: the sum of its entries at `count` uniform picks with replacement,
    the same picks for every table, drawn a block at a time."""
    import numpy as np

    totals = [np.empty(resamples) for _ in tables]
    step = max(1, BLOCK // count)
    for start in range(0, resamples, step):
        picks = rng.integers(0, len(tables[0]), size=(min(step, resamples - start), count))
        for table, total in zip(tables, totals, strict=True):
            total[start : start + len(picks)] = np.take(table, picks).sum(axis=1)
    return totals


def mcnemar_p(worse: int, better: int) -> float:
    """McNemar's exact test, one-sided ("the head is worse"): of the cases that flipped, how
    likely at least `worse` of them flipped down if each flip's direction were a coin toss."""
    n = worse + better
    if n == 0:
        return 1.0
    return min(1.0, sum(math.comb(n, k) for k in range(worse, n + 1)) / 2**n)


def sign_test_p(losses: int, wins: int) -> float:
    """The sign test, one-sided: the head loses more often than chance would have it."""
    return mcnemar_p(losses, wins)


def sign_flip_p(
    deltas: Sequence[float],
    *,
    seed: int,
    shift: float = 0.0,
    clusters: Sequence[str | None] | None = None,
    resamples: int = RESAMPLES,
    exact_up_to: int = EXACT_UP_TO,
) -> float:
    """The paired sign-flip permutation test, one-sided ("the head is worse by more than
    `shift`"): if head and base were exchangeable, each case's delta (plus `shift`) would be as
    likely negative as positive. Exact up to `exact_up_to` non-zero deltas, seeded Monte Carlo
    above (with the +1 correction, so a p-value is never 0)."""
    sums, sizes = _cluster_sums(deltas, clusters)
    shifted = [round(s + shift * n, 12) for s, n in zip(sums, sizes, strict=True)]
    magnitudes = Counter(abs(s) for s in shifted if s != 0)
    observed = sum(shifted)
    nonzero = sum(magnitudes.values())
    if nonzero == 0:
        return 1.0
    # sums that tie with the observed one count as at least as extreme, whatever the rounding
    tolerance = 1e-9 * max(1.0, sum(abs(s) for s in shifted))
    if nonzero <= exact_up_to:
        return _sign_flip_exact(magnitudes, observed + tolerance)
    import numpy as np

    totals = _null_totals(tuple(magnitudes.items()), seed, resamples)
    hits = int(np.count_nonzero(totals <= observed + tolerance))
    return (hits + 1) / (resamples + 1)


@functools.lru_cache(maxsize=8)
def _null_totals(
    magnitudes: tuple[tuple[float, int], ...], seed: int, resamples: int
) -> np.ndarray:
    """The seeded null distribution of the signed sum, kept for the next call: a comparison asks
    whether the head is worse and whether it is better, of the same magnitudes and seed."""
    import numpy as np

    totals = _signed_totals(np.random.default_rng(seed), Counter(dict(magnitudes)), resamples)
    totals.flags.writeable = False
    return totals


def _signed_totals(rng: np.random.Generator, magnitudes: Counter, resamples: int) -> np.ndarray:
    """The sum of the magnitudes under random signs, once per resample: for a magnitude shared
    by many units, a binomial count of its positive signs; for the others, a random bit each."""
    import numpy as np

    totals = np.zeros(resamples)
    for magnitude, count in magnitudes.items():
        if count > BINOMIAL_ABOVE:
            totals += magnitude * (2 * rng.binomial(count, 0.5, size=resamples) - count)
    rest = [(m, count) for m, count in magnitudes.items() if count <= BINOMIAL_ABOVE]
    if rest:
        units = np.repeat([m for m, _ in rest], [count for _, count in rest])
        totals += _bit_signed_totals(rng, units, resamples)
    return totals


def _bit_signed_totals(rng: np.random.Generator, units: np.ndarray, resamples: int) -> np.ndarray:
    """The sum of the units under random signs, a random bit per unit (random bytes, unpacked),
    a block of resamples at a time."""
    import numpy as np

    n = len(units)
    width = (n + 7) // 8
    totals = np.empty(resamples)
    step = max(1, BLOCK // n)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        raw = np.frombuffer(rng.bytes(rows * width), dtype=np.uint8).reshape(rows, width)
        positive = np.unpackbits(raw, axis=1, count=n)
        totals[start : start + rows] = 2 * (positive @ units) - units.sum()
    return totals


def _sign_flip_exact(magnitudes: Counter, at_most: float) -> float:
    """P(sum of randomly signed magnitudes <= at_most), exactly. Meet in the middle: the sums of
    each half of the magnitudes with their probabilities (equal sums merged), and for each sum
    of one half the probability that the other half keeps the total at most `at_most`; about
    2 * 2^(n/2) sums instead of 2^n sign patterns."""
    import numpy as np

    first, second = _halves(magnitudes)
    left_sums, left_probs = _signed_sums(first)
    right_sums, right_probs = _signed_sums(second)  # sorted, by np.unique
    below = np.concatenate(([0.0], np.cumsum(right_probs)))
    reach = np.searchsorted(right_sums, at_most - left_sums, side="right")
    return min(1.0, float(left_probs @ below[reach]))


def _halves(magnitudes: Counter) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """The groups of equal magnitudes split so that both halves have about as many sums."""
    halves: tuple[list[tuple[float, int]], list[tuple[float, int]]] = ([], [])
    sizes = [1, 1]
    for magnitude, count in sorted(magnitudes.items(), key=lambda group: -group[1]):
        smaller = 0 if sizes[0] <= sizes[1] else 1
        halves[smaller].append((magnitude, count))
        sizes[smaller] *= count + 1
    return halves


def _signed_sums(groups: list[tuple[float, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Every sum of the groups' magnitudes under random signs, ascending, with its probability
    (k positive signs among a group's `count` has probability C(count, k) / 2^count)."""
    import numpy as np

    sums: np.ndarray = np.zeros(1)
    probs: np.ndarray = np.ones(1)
    for magnitude, count in groups:
        chance = np.array([math.comb(count, k) for k in range(count + 1)]) / 2.0**count
        signed = magnitude * (2.0 * np.arange(count + 1) - count)  # k of `count` signs positive
        sums = (sums[:, None] + signed).ravel()
        probs = (probs[:, None] * chance).ravel()
        sums, where = np.unique(sums, return_inverse=True)
        probs = np.bincount(where, weights=probs, minlength=len(sums))
    return sums, probs


def fisher_worse_p(passed_before: int, n_before: int, passed_after: int, n_after: int) -> float:
    """Fisher's exact test, one-sided: the head's pass rate is lower than the base's. Given the
    total passes, the chance that the head got as few of them as it did or fewer."""
    passes = passed_before + passed_after
    total = n_before + n_after
    if total == 0:
        return 1.0
    denominator = math.comb(total, passes)
    low = max(0, passes - n_before)
    return min(
        1.0,
        sum(
            math.comb(n_after, k) * math.comb(n_before, passes - k)
            for k in range(low, passed_after + 1)
        )
        / denominator,
    )


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected with the family-wise error held
    at `alpha` across all of them."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected


def cohen_kappa(
    a: Sequence[int], b: Sequence[int], labels: Sequence[int], weights: str | None = None
) -> float:
    """Cohen's kappa of two raters over `labels`; `weights="quadratic"` (or `"linear"`) for
    ordinal scores (a 4 against a 5 is a smaller disagreement than a 1 against a 5). NaN when
    undefined (no ratings, or both raters always give the same one label)."""
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"unknown kappa weights {weights!r}: None, 'linear' or 'quadratic'")
    k = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    n = len(a)
    if n == 0:
        return math.nan
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        for rating in (x, y):
            if rating not in index:
                raise ValueError(f"{rating} is not one of the labels {list(labels)}")
        observed[index[x]][index[y]] += 1
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def weight(i: int, j: int) -> float:
        # unnormalised (kappa is a ratio of two weighted sums), so one label is no division by 0
        if weights == "quadratic":
            return float((i - j) ** 2)
        if weights == "linear":
            return float(abs(i - j))
        return 0.0 if i == j else 1.0

    seen = sum(weight(i, j) * observed[i][j] for i in range(k) for j in range(k)) / n
    chance = sum(weight(i, j) * rows[i] * cols[j] for i in range(k) for j in range(k)) / n / n
    if chance == 0:
        return math.nan
    return 1 - seen / chance


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson's correlation; NaN for fewer than two pairs or a constant side."""
    n = len(a)
    if n < 2 or all(x == a[0] for x in a) or all(y == b[0] for y in b):
        return math.nan  # a constant's mean need not round-trip: its spread would be noise
    if n == 2:  # two points are on a line; their mean may not be representable (scipy does this)
        return math.copysign(1.0, (a[1] - a[0]) * (b[1] - b[0]))
    da, db = _scaled_deviations(a), _scaled_deviations(b)
    sa = math.sqrt(sum(x * x for x in da))
    sb = math.sqrt(sum(y * y for y in db))
    return sum(x * y for x, y in zip(da, db, strict=True)) / (sa * sb)


def _scaled_deviations(values: Sequence[float]) -> list[float]:
    """Deviations from the mean over the largest of them: squares that neither overflow nor
    underflow to 0, whatever the scale."""
    mean = math.fsum(values) / len(values)
    deviations = [x - mean for x in values]
    largest = max(abs(d) for d in deviations)
    return [d / largest for d in deviations]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (the Pearson correlation of the ranks, ties averaged)."""
    return pearson(_ranks(a), _ranks(b))


def cases_needed(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """How many paired cases a one-sided test at `alpha` needs to find a mean drop of `effect`
    with probability `power`, given the per-case delta's standard deviation (normal approximation)."""
    if effect <= 0 or sd <= 0 or not math.isfinite(sd):
        return None
    return math.ceil(((z_of(1 - alpha) + z_of(power)) * sd / effect) ** 2)
