"""The commit gate's policy: what blocks a commit, and the one line that says why."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptvc.compare import Direction, SetComparison
from promptvc.evals.scoring import Status
from promptvc.settings import GatePolicy


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    def line(self) -> str:
        if self.blocked:
            return "blocked: " + "; ".join(self.reasons)
        return "allowed" + (f" (with warnings: {'; '.join(self.warnings)})" if self.warnings else "")


def flip_blocks(policy: GatePolicy, temperature: float) -> bool:
    if policy.block_on_flip == "always":
        return True
    if policy.block_on_flip == "never":
        return False
    return temperature == 0  # at temperature > 0 a flip may be sampling noise


def decide(comparisons: list[SetComparison], policy: GatePolicy) -> Verdict:
    reasons: list[str] = []
    warnings: list[str] = []
    for c in comparisons:
        after = c.after
        if after is None:
            continue
        problems = []
        unchecked = after.skipped + after.errored
        if after.status == Status.NOT_EVALUATED or unchecked:
            what = f"{c.set_id}: {unchecked} of {len(after.results)} cases not checked ({_why(after)})"
            (reasons if policy.offline == "block" else warnings).append(what)
        if after.status == Status.FAILED:
            problems.append(f"fell below its threshold ({after.score:.2f} < {after.golden.threshold:.2f})")
        if c.delta is not None and c.delta < -policy.max_drop - 1e-9:
            problems.append(f"dropped {-c.delta:.2f} (max_drop {policy.max_drop:.2f})")
        regressions = c.regressions
        if regressions and flip_blocks(policy, after.plan.temperature):
            n = len(regressions)
            problems.append(f"{n} case{'s' if n != 1 else ''} flipped {Direction.REGRESSED.value}")
        if problems:
            reasons.append(f"{c.set_id} " + ", ".join(problems))
    return Verdict(bool(reasons), tuple(reasons), tuple(warnings))


def _why(outcome) -> str:
    first = next((r.error for r in outcome.results if r.status in (Status.SKIPPED, Status.ERROR) and r.error), "")
    return first.split(";")[0][:100]
