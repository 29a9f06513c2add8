"""Paired figures per set, the verdict word, the hint, and the per-case evidence: pure functions
on real CaseSummary values, checked against values worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from promptvc import stats
from promptvc.evals.scoring import CaseResult, CaseSummary, Status
from promptvc.significance import (
    DROP_SHARE,
    assess,
    case_evidence,
    flipped_down,
    needs_second_stage,
    paired_stats,
    resolve_hint,
)


def case(case_id: str, *outcomes: float) -> CaseSummary:
    """A case whose samples scored `outcomes` (1.0 passed, anything lower failed)."""
    return CaseSummary(
        case_id,
        tuple(
            CaseResult(
                f"{case_id}-{i}",
                "s",
                case_id,
                i,
                "p",
                "anthropic",
                Status.PASSED if score == 1.0 else Status.FAILED,
                score,
            )
            for i, score in enumerate(outcomes)
        ),
    )


def pairs_of(before: list[tuple[float, ...]], after: list[tuple[float, ...]]):
    return [
        (case(f"c{i}", *b), case(f"c{i}", *a))
        for i, (b, a) in enumerate(zip(before, after, strict=True))
    ]


def test_single_samples_use_mcnemar_on_the_flips():
    # 24 cases: 5 pass → fail, 1 fail → pass, the rest unchanged
    before = [(1.0,)] * 5 + [(0.0,)] + [(1.0,)] * 18
    after = [(0.0,)] * 5 + [(1.0,)] + [(1.0,)] * 18
    s = paired_stats(pairs_of(before, after), seed=1, max_drop=0.05)
    assert s is not None and s.test == "McNemar"
    assert (s.down, s.up, s.cases, s.samples) == (5, 1, 24, 1)
    assert s.delta == pytest.approx(-4 / 24)
    # P(X >= 5), X ~ Bin(6, 1/2) = (6 + 1) / 64
    assert s.p == pytest.approx(7 / 64)
    assert s.p_better == pytest.approx(63 / 64)
    assert s.low <= s.delta <= s.high


def test_repeated_samples_use_the_sign_flip_test_on_case_means():
    before = [(1.0, 1.0, 1.0)] * 6
    after = [(1.0, 0.0, 0.0)] * 3 + [(1.0, 1.0, 1.0)] * 3
    s = paired_stats(pairs_of(before, after), seed=7, max_drop=0.05)
    assert s is not None and s.test == "sign-flip" and s.samples == 3
    # three equal negative deltas, the only non-zero ones: all negative in 1 of 8 sign patterns
    assert s.p == pytest.approx(1 / 8)
    assert s.delta == pytest.approx(-1 / 3)


def test_the_same_comparison_always_prints_the_same_interval():
    before = [(1.0,), (1.0,), (0.5,), (1.0,), (0.0,)] * 8
    after = [(0.5,), (1.0,), (0.5,), (0.0,), (0.0,)] * 8
    first = paired_stats(pairs_of(before, after), seed=stats.seed_of("a", "b"), max_drop=0.05)
    again = paired_stats(pairs_of(before, after), seed=stats.seed_of("a", "b"), max_drop=0.05)
    assert first == again
    # the seed is what makes it so: many-valued deltas land elsewhere under another seed
    draw = random.Random(5)
    wide = [(draw.random(),) for _ in range(40)]
    shifted = [(draw.random(),) for _ in range(40)]
    seeded = [paired_stats(pairs_of(wide, shifted), seed=seed, max_drop=0.05) for seed in (1, 1, 2)]
    assert seeded[0] == seeded[1]
    assert seeded[0] is not None and seeded[2] is not None
    assert (seeded[0].low, seeded[0].high) != (seeded[2].low, seeded[2].high)


def test_clusters_are_resampled_whole():
    before = [(1.0,)] * 12
    after = [(0.0,)] * 3 + [(1.0,)] * 9
    pairs = pairs_of(before, after)
    independent = paired_stats(pairs, seed=3, max_drop=0.05)
    # the three failures are one conversation: one unit of evidence, not three
    clusters = {"c0": "talk", "c1": "talk", "c2": "talk"}
    clustered = paired_stats(pairs, seed=3, max_drop=0.05, clusters=clusters)
    assert independent is not None and clustered is not None
    assert clustered.test == "sign-flip" and clustered.p == pytest.approx(0.5)
    assert independent.p == pytest.approx(1 / 8)


def test_the_verdict_words():
    unchanged = paired_stats(pairs_of([(1.0,)] * 5, [(1.0,)] * 5), seed=1, max_drop=0.05)
    assert unchanged is not None and assess(unchanged, 0.05).word == "unchanged"
    improved = paired_stats(pairs_of([(0.0,)] * 8, [(1.0,)] * 8), seed=1, max_drop=0.05)
    assert improved is not None and assess(improved, 0.05).word == "improved"
    regressed = paired_stats(pairs_of([(1.0,)] * 12, [(0.0,)] * 12), seed=1, max_drop=0.05)
    assert regressed is not None and assess(regressed, 0.05).word == "regressed"
    # one small wobble among many cases: any drop is surely below max_drop
    steady = paired_stats(
        pairs_of([(1.0,)] * 200, [(0.75,)] + [(1.0,)] * 199), seed=1, max_drop=0.05
    )
    assert steady is not None and assess(steady, 0.05).word == "no regression"


def test_an_inconclusive_drop_says_what_would_resolve_it():
    before = [(1.0,)] * 24
    after = [(0.0,), (0.0,), (0.0,), (1.0,)] + [(1.0,)] * 20
    s = paired_stats(pairs_of(before, after), seed=1, max_drop=0.05)
    assert s is not None
    verdict = assess(s, 0.05)
    assert verdict.word == "inconclusive"
    needed = stats.cases_needed(s.sd, -s.delta, 0.05 * DROP_SHARE["first"])
    assert needed is not None and needed > 24
    assert verdict.hint == (
        f"24 cases; ~{needed} cases or repeat: {math.ceil(needed / 24)} would resolve a "
        f"{-s.delta:.2f} drop"
    )
    assert resolve_hint(s, 0.05) == verdict.hint
    assert needs_second_stage(s, 0.05)


def test_a_deterministic_regression_is_confirmed_and_a_flaky_flip_is_not():
    pairs = [
        (case("broken", *[1.0] * 8), case("broken", *[0.0] * 8)),
        (case("wobbly", *[1.0] * 8), case("wobbly", *[1.0] * 6, 0.0, 0.0)),
        (case("same", *[1.0] * 8), case("same", *[1.0] * 8)),
    ]
    evidence = case_evidence(pairs, ["broken", "wobbly"], alpha=0.05)
    broken, wobbly = evidence
    assert broken.confirmed and broken.counts() == "pass 8/8 → 0/8"
    assert broken.p == pytest.approx(1 / math.comb(16, 8))
    assert not wobbly.confirmed and wobbly.p == pytest.approx(28 / 120)


def test_in_a_safety_set_a_flip_reproduces_when_the_head_fails_again_and_the_base_never_did():
    pairs = [
        (case("wobbly", *[1.0] * 8), case("wobbly", *[1.0] * 7, 0.0)),
        (case("both", *[1.0] * 7, 0.0), case("both", *[1.0] * 6, 0.0, 0.0)),
        (case("clean", *[1.0] * 8), case("clean", *[1.0] * 8)),
    ]
    quality = case_evidence(pairs, ["wobbly", "both", "clean"], alpha=0.05)
    assert [e.confirmed for e in quality] == [False, False, False]
    safety = case_evidence(pairs, ["wobbly", "both", "clean"], alpha=0.05, safety=True)
    # One failure in eight is a leak; a base that fails too is no regression of this commit.
    assert [e.confirmed for e in safety] == [True, False, False]
    assert [e.p for e in safety] == [e.p for e in quality]  # the figures stay the test's


def test_holm_holds_the_error_across_a_sets_flipped_cases():
    # p = 0.014 per case (4/4 → 0/4): enough alone at alpha/2 = 0.025, not with two of them
    pairs = [(case(c, *[1.0] * 4), case(c, *[0.0] * 4)) for c in ("a", "b")]
    assert [e.confirmed for e in case_evidence(pairs[:1], ["a"], alpha=0.05)] == [True]
    assert [e.confirmed for e in case_evidence(pairs, ["a", "b"], alpha=0.05)] == [False, False]


def test_only_cases_that_passed_and_now_fail_are_candidates():
    pairs = pairs_of([(1.0,), (0.0,), (1.0,)], [(0.0,), (1.0,), (1.0,)])
    assert flipped_down(pairs) == ["c0"]


def test_the_statistics_import_numpy_only_when_they_resample():
    import subprocess
    import sys

    code = (
        "import sys, promptvc.significance, promptvc.gate; "
        "assert 'numpy' not in sys.modules, 'numpy imported at start-up'"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_the_hint_never_asks_for_fewer_cases_than_an_exact_test_needs_and_no_repeats_of_echo():
    # 4 of 4 cases flipped: McNemar's p is at least 1/16, above the first stage's share of alpha
    # (0.005), whatever the normal approximation says; 2^-8 is the first below it
    s = paired_stats(pairs_of([(1.0,)] * 4, [(0.0,)] * 4), seed=1, max_drop=0.05)
    assert s is not None and assess(s, 0.05).hint.startswith("4 cases; ~8 cases or repeat: 2")
    echo = paired_stats(
        pairs_of([(1.0,)] * 4, [(0.0,)] * 4), seed=1, max_drop=0.05, deterministic=True
    )
    assert (
        echo is not None
        and assess(echo, 0.05).hint == "4 cases; ~8 cases would resolve a 1.00 drop"
    )
