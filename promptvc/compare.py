"""Before/after: per golden set the two scores, the delta, and the cases that flipped."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from promptvc.evals.scoring import CaseResult, CaseSummary, SetOutcome, Status

if TYPE_CHECKING:  # a type only: the pairwise judge (and jinja2) stay unimported for `log`
    from promptvc.evals.pairwise import PairwiseOutcome

# Scores are shown to two decimals: a smaller change is shown, and treated, as no change.
UNCHANGED_BELOW = 0.005


class Direction(Enum):
    """Which way a case flipped; the value is how every view names it."""

    REGRESSED = "pass → fail"
    FIXED = "fail → pass"


def flip_direction(before: str | None, after: str | None) -> Direction | None:
    """A flip is a case that passed and now fails, or the reverse; errors and skips never flip."""
    if before == Status.PASSED and after == Status.FAILED:
        return Direction.REGRESSED
    if before == Status.FAILED and after == Status.PASSED:
        return Direction.FIXED
    return None


def is_unchanged(delta: float) -> bool:
    return abs(delta) < UNCHANGED_BELOW


@dataclass(frozen=True)
class Flip:
    case_id: str
    before: CaseResult
    after: CaseResult

    @property
    def direction(self) -> Direction | None:
        return flip_direction(self.before.status, self.after.status)

    @property
    def regression(self) -> bool:
        return self.direction is Direction.REGRESSED


@dataclass(frozen=True)
class SetComparison:
    set_id: str
    before: SetOutcome | None
    after: SetOutcome | None
    flips: tuple[Flip, ...]
    # The pairwise judge's verdict, one per llm-compare criterion of the set (evaluation/pairwise_judge.py).
    pairwise: tuple[PairwiseOutcome, ...] = ()

    @property
    def safety(self) -> bool:
        """A `kind: safety` set (as the head declares it): held to the gate's stricter rules."""
        side = self.after or self.before
        return side is not None and side.golden.safety

    @property
    def delta(self) -> float | None:
        if (
            self.before is None
            or self.after is None
            or self.before.score is None
            or self.after.score is None
        ):
            return None
        return self.after.score - self.before.score

    @property
    def paired_delta(self) -> float | None:
        """The mean change of the cases evaluated on both sides (a case added or removed is no
        change of the others): what the gate's max_drop is measured on."""
        if self.before is None or self.after is None:
            return None
        old = {(r.case_id, r.sample): r.score for r in self.before.results if r.evaluated}
        pairs = [
            (old[(r.case_id, r.sample)], r.score)
            for r in self.after.results
            if r.evaluated and (r.case_id, r.sample) in old
        ]
        diffs = [b - a for a, b in pairs if a is not None and b is not None]
        return sum(diffs) / len(diffs) if diffs else None

    @property
    def regressions(self) -> tuple[Flip, ...]:
        return tuple(f for f in self.flips if f.regression)

    def paired(self) -> list[tuple[CaseResult, CaseResult]]:
        """(before, after) for each case evaluated on both sides: what like-with-like compares."""
        if self.before is None or self.after is None:
            return []
        old = {(r.case_id, r.sample): r for r in self.before.results if r.evaluated}
        return [
            (old[(r.case_id, r.sample)], r)
            for r in self.after.results
            if r.evaluated and (r.case_id, r.sample) in old
        ]


def cost_change(comparisons: list[SetComparison]) -> tuple[float | None, float | None, int]:
    """What the cases evaluated on both sides cost per run, before and after (None: a model without a
    price), and how many cases that covers."""
    pairs = [pair for c in comparisons for pair in c.paired()]

    def total(results: list[CaseResult]) -> float | None:
        costs = [r.cost for r in results]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    return total([b for b, _ in pairs]), total([a for _, a in pairs]), len(pairs)


def compare(before: list[SetOutcome], after: list[SetOutcome]) -> list[SetComparison]:
    old = {o.golden.id: o for o in before}
    new = {o.golden.id: o for o in after}
    comparisons = []
    for set_id in sorted(set(old) | set(new), key=lambda i: (i not in new, i)):
        was, now = old.get(set_id), new.get(set_id)
        if was and now and was.plan.identity.scores_key != now.plan.identity.scores_key:
            was = None  # a score from echo or another endpoint is never the baseline
        comparisons.append(SetComparison(set_id, was, now, _flips(was, now)))
    return comparisons


def _flips(before: SetOutcome | None, after: SetOutcome | None) -> tuple[Flip, ...]:
    """Cases whose verdict over their samples (the set's pass rule) changed, each shown by a
    sample that says so on either side."""
    if before is None or after is None:
        return ()
    old = before.cases
    flips = []
    for case_id, now in after.cases.items():
        was = old.get(case_id)
        if was is not None and case_flip(was, now):
            flips.append(Flip(case_id, _sample_showing(was), _sample_showing(now)))
    return tuple(flips)


def case_flip(before: CaseSummary, after: CaseSummary) -> Direction | None:
    """Which way a case's verdict over its samples (the set's pass rule) flipped, if it did."""
    return flip_direction(_verdict(before), _verdict(after))


def _verdict(case: CaseSummary) -> Status:
    return Status.PASSED if case.passed else Status.FAILED


def _sample_showing(case: CaseSummary) -> CaseResult:
    verdict = _verdict(case)
    return next((r for r in case.samples if r.status == verdict), case.samples[0])
