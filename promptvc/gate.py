"""The commit gate's policy: what blocks a commit, and the one line that says why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from promptvc.compare import Direction, SetComparison
from promptvc.evals.scoring import Status
from promptvc.settings import GatePolicy
from promptvc.significance import (
    SetEvidence,
    first_stage_evidence,
    interval_text,
    max_drop_of,
    p_text,
)
from promptvc.wording import plural

MAX_CASES_NAMED = 3


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    def line(self) -> str:
        if self.blocked:
            return "blocked: " + "; ".join(self.reasons)
        return "allowed" + (
            f" (with warnings: {'; '.join(self.warnings)})" if self.warnings else ""
        )


def flip_blocks(policy: GatePolicy, temperature: float, deterministic: bool = False) -> bool:
    if policy.block_on_flip == "always":
        return True
    if policy.block_on_flip == "never":
        return False
    # At temperature > 0 a model's flip may be sampling noise; echo's output never is.
    return deterministic or temperature == 0


def decide(
    comparisons: list[SetComparison],
    policy: GatePolicy,
    base: str = "HEAD",
    evidence: Mapping[str, SetEvidence] | None = None,
) -> Verdict:
    """Block for a set only when the commit makes it worse; a set that was already failing and
    is no worse is a warning (unless `block_below_threshold = "always"`). `evidence`: the
    re-sampled second stage per set (without it, a flip is not confirmed)."""
    reasons: list[str] = []
    warnings: list[str] = []
    for c in comparisons:
        after = c.after
        if after is None:
            continue
        unchecked = after.unchecked
        if unchecked:  # only a model that could not be asked is the offline policy's business
            what = f"{c.set_id}: {len(unchecked)} of {plural(len(after.results), 'case')} not checked ({_why(unchecked)})"
            (reasons if policy.offline == "block" else warnings).append(what)
        if policy.block_on == "any-drop":
            worse = _worse(c, policy)
        else:
            worse = _worse_by_evidence(c, policy, (evidence or {}).get(c.set_id), warnings)
        broken = after.broken
        if broken:
            n = len(broken)
            own = (
                (" in its own checks" if n == 1 else " in their own checks")
                if all(r.fault == "check" for r in broken)
                else ""
            )
            worse.insert(0, f"{n} case{'' if n == 1 else 's'} errored{own} ({_why(broken)})")
        worse += _pairwise_losses(c, policy)
        (reasons if policy.offline == "block" else warnings).extend(_pairwise_unjudged(c))
        below, blocks = _below_threshold(c, policy, bool(worse))
        if below and blocks:
            worse.insert(0, below)
        elif below and below.startswith("fell"):
            warnings.append(f"{c.set_id} {below}, but not significantly worse than {base}")
        elif below:
            warnings.append(f"{c.set_id} {below}, no worse than {base}")
        if worse:
            reasons.append(f"{c.set_id}{' (safety set)' if c.safety else ''} " + ", ".join(worse))
    return Verdict(bool(reasons), tuple(reasons), tuple(warnings))


def _worse_by_evidence(
    c: SetComparison, policy: GatePolicy, evidence: SetEvidence | None, warnings: list[str]
) -> list[str]:
    """What the evidence says the commit made worse: a significant drop of at least max_drop, or
    cases whose flip reproduced when re-sampled. A flip that did not reproduce is a warning."""
    if evidence is None:
        found = first_stage_evidence(c, _max_drop(c, policy), policy.alpha)
        if found is None:
            return []
        evidence = replace(found, not_resampled="not re-sampled")
    problems = []
    dropped = evidence.dropped(policy.alpha)
    if dropped is not None:
        problems.append(
            f"dropped {-dropped.delta:.2f} ({interval_text(dropped)}, {p_text(dropped.p_drop)} "
            f"for a drop beyond {_max_drop_name(c)} {dropped.max_drop:.2f})"
        )
    confirmed = evidence.regressions
    if confirmed:
        named = ", ".join(f"{e.case_id} {e.counts()}" for e in confirmed[:MAX_CASES_NAMED])
        more = (
            f" and {len(confirmed) - MAX_CASES_NAMED} more"
            if len(confirmed) > MAX_CASES_NAMED
            else ""
        )
        problems.append(f"{plural(len(confirmed), 'case')} regressed: {named}{more}")
    flaky = evidence.flaky
    if flaky:
        named = ", ".join(f"{e.case_id} {e.counts()}" for e in flaky[:MAX_CASES_NAMED])
        warnings.append(
            f"{c.set_id}: {plural(len(flaky), 'flip')} did not reproduce (flaky): {named}"
        )
    unconfirmed = evidence.unconfirmed
    if unconfirmed:
        what = (
            f"{c.set_id}: {plural(len(unconfirmed), 'flip')} {Direction.REGRESSED.value} "
            f"not confirmed ({evidence.not_resampled or 'not re-sampled'})"
        )
        (problems if policy.offline == "block" else warnings).append(what)
    return problems


def _worse(c: SetComparison, policy: GatePolicy) -> list[str]:
    """block_on = "any-drop": a mean drop beyond max_drop, cases that flipped pass → fail."""
    problems = []
    drop = (
        c.paired_delta
    )  # over the cases on both sides: a new failing case is not a drop of the others
    allowed = _max_drop(c, policy)
    if drop is not None and drop < -allowed - 1e-9:
        problems.append(f"dropped {-drop:.2f} ({_max_drop_name(c)} {allowed:.2f})")
    regressions = c.regressions
    deterministic = c.after is not None and c.after.plan.identity.kind == "echo"
    # A safety set's flip blocks at any temperature: a leak that sampling let through is a leak.
    if (
        regressions
        and c.after is not None
        and (c.safety or flip_blocks(policy, c.after.plan.temperature, deterministic))
    ):
        n = len(regressions)
        problems.append(f"{plural(n, 'case')} flipped {Direction.REGRESSED.value}")
    return problems


def _max_drop(c: SetComparison, policy: GatePolicy) -> float:
    return max_drop_of(c, policy.max_drop, policy.safety_max_drop)


def _max_drop_name(c: SetComparison) -> str:
    return "safety_max_drop" if c.safety else "max_drop"


def _below_threshold(c: SetComparison, policy: GatePolicy, worse: bool) -> tuple[str | None, bool]:
    """(what a failing score says, whether that alone blocks): it fell (which blocks, on
    evidence, when the commit made the set worse by evidence too), it has no baseline, or it was
    already failing (a warning, unless the commit made it worse in another way)."""
    after, before = c.after, c.before
    if after is None or after.status != Status.FAILED:
        return None, False
    scores = f"({after.score:.2f} < {after.golden.threshold:.2f})"
    if before is None or before.score is None:
        return f"is below its threshold {scores} with no baseline to be no worse than", True
    if before.status == Status.PASSED:
        # On evidence, a fall that sampling noise explains (a flaky case) is not a regression.
        return f"fell below its threshold {scores}", worse or policy.block_on == "any-drop"
    if policy.block_below_threshold == "always":
        return f"is below its threshold {scores}", True
    return (None if worse else f"still below its threshold {scores}"), False


def _why(results) -> str:
    first = next((r.error for r in results if r.error), "")
    return first.split(";")[0][:100]


def _pairwise_losses(c: SetComparison, policy: GatePolicy) -> list[str]:
    """The pairwise judge's criteria on which the head loses significantly (sign test < alpha)."""
    return [
        f"lost on {o.criterion!r} ({plural(o.wins, 'win')}, {plural(o.losses, 'loss', 'losses')}, "
        f"{p_text(o.p)} < alpha {policy.alpha:g})"
        for o in c.pairwise
        if o.significant_loss(policy.alpha)
    ]


def _pairwise_unjudged(c: SetComparison) -> list[str]:
    """Pairs the judge could not answer: like cases no model checked, the offline policy's business."""
    return [
        f"{c.set_id}: {plural(o.unjudged, 'pair')} not judged on {o.criterion!r} ({o.note})"
        for o in c.pairwise
        if o.unjudged
    ]
