"""The statistics of a comparison for 50 sets of 200 cases (10,000 resamples each, seeded per
set): a bootstrap interval and a sign-flip p-value per set, and what `check` computes per set
(significance.paired_stats: the interval, and the sign-flip p-values of a drop, of a gain and of
a drop beyond max_drop; McNemar instead of the first two when each case has one sample).

Run by hand: python benchmarks/bench_stats.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report  # noqa: E402

from promptvc.stats import bootstrap_ci, mcnemar_p, seed_of, sign_flip_p  # noqa: E402

SETS = 50
CASES = 200
MAX_DROP = 0.05


def pass_fail(rng: np.random.Generator) -> list[float]:
    """One sample per case on each side: most cases agree, a few flip either way."""
    rate = rng.beta(4, 1, size=CASES)
    base = rng.random(CASES) < rate
    head = rng.random(CASES) < np.clip(rate - 0.03, 0, 1)
    return (head.astype(float) - base.astype(float)).tolist()


def repeated_scores(rng: np.random.Generator) -> list[float]:
    """Per-case means of 5 samples of a judge's 1-5 score on 0..1 (quarters): deltas in
    steps of 0.05, up to 41 distinct values."""
    quality = rng.beta(4, 1.5, size=CASES)

    def side(drop: float):
        truth = np.clip(quality - drop, 0, 1)[:, None] * 4
        scores = np.clip(np.rint(truth + rng.normal(0, 0.7, size=(CASES, 5))), 0, 4) / 4
        return scores.mean(axis=1)

    return np.round(side(0.05) - side(0.0), 12).tolist()


def continuous(rng: np.random.Generator) -> list[float]:
    """Every delta distinct (the worst case for counting distinct values)."""
    return rng.normal(-0.02, 0.15, size=CASES).tolist()


def sets_of(make: Callable[[np.random.Generator], list[float]]) -> list[list[float]]:
    rng = np.random.default_rng(11)
    return [make(rng) for _ in range(SETS)]


def interval_and_p(deltas: list[float], seed: int) -> None:
    bootstrap_ci(deltas, seed=seed)
    sign_flip_p(deltas, seed=seed)


def as_check(deltas: list[float], seed: int) -> None:
    if set(deltas) <= {-1.0, 0.0, 1.0}:  # one sample per case: McNemar on the flips
        down, up = deltas.count(-1.0), deltas.count(1.0)
        mcnemar_p(down, up), mcnemar_p(up, down)
    else:
        sign_flip_p(deltas, seed=seed)
        sign_flip_p([-d for d in deltas], seed=seed)
    sign_flip_p(deltas, seed=seed, shift=MAX_DROP)
    bootstrap_ci(deltas, seed=seed)


def compare_all(
    sets: list[list[float]], compare: Callable[[list[float], int], None]
) -> tuple[float, float]:
    """Seconds taken, by the clock and in CPU (the machine is shared: CPU time is the steadier)."""
    started, cpu = time.perf_counter(), time.process_time()
    for i, deltas in enumerate(sets):
        compare(deltas, seed_of(f"base-{i}", f"head-{i}"))
    return time.perf_counter() - started, time.process_time() - cpu


def timed(label: str, sets: list[list[float]], compare, target: float | None) -> None:
    runs = [compare_all(sets, compare) for _ in range(5)]
    wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
    report(f"{label} (CPU {cpu * 1000:.0f} ms)", wall, target=target)


def main() -> None:
    bootstrap_ci([0.0, 1.0], seed=0)  # numpy's import, once, outside the timings
    print(f"bootstrap_ci + sign_flip_p · {SETS} sets × {CASES} cases, 10,000 resamples each")
    for label, make, target in (
        ("(a) pass/fail, one sample per case (deltas in -1, 0, 1)", pass_fail, 0.3),
        ("(b) means of 5 judge scores per case (steps of 0.05)", repeated_scores, 0.3),
        ("(c) continuous deltas, all distinct (worst case)", continuous, None),
    ):
        sets = sets_of(make)
        distinct = np.mean([len(set(s)) for s in sets])
        print(f"  {label}: {distinct:.0f} distinct deltas per set on average")
        timed("    bootstrap_ci + sign_flip_p", sets, interval_and_p, target)
        timed("    as check computes a set", sets, as_check, target)


if __name__ == "__main__":
    main()
