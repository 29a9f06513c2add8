"""The gate's second stage: re-sample what the first stage could not settle, on both sides.

A case that flipped pass → fail is drawn `max_repeat` more times at the base and at the head
(fresh samples with their own keys, so a second `check` of the same change reuses them), and
its flip counts only when those samples alone show it (see promptvc.significance). A set whose
drop is at least max_drop but not yet significant is re-sampled whole. Only the re-sampled
cases are sent, within the spend cap; what cannot be re-sampled is said, never passed silently.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field, replace

from promptvc.clock import now
from promptvc.compare import SetComparison
from promptvc.errors import CannotEvaluate
from promptvc.evaluation.both import BothOutcomes, BothPlans, check_spend_of
from promptvc.evaluation.plan import EvalPlan, SetPlan, resample
from promptvc.evaluation.runner import Runner
from promptvc.history import stored_evidence
from promptvc.settings import GatePolicy
from promptvc.significance import (
    SetEvidence,
    case_clusters,
    case_evidence,
    case_share,
    comparison_seed,
    first_samples,
    first_stage_evidence,
    max_drop_of,
    needs_second_stage,
    paired_cases,
    paired_stats,
)
from promptvc.store import Store, comparison_key
from promptvc.workspace import Workspace


@dataclass
class _Pending:
    comparison: SetComparison
    found: SetEvidence  # the first stage's
    flips: list[str]  # flipped cases the first stage did not already show regressed
    resampled: list[str] = field(default_factory=list)
    whole: bool = False  # every case re-sampled: the drop is tested again


def gather_evidence(
    ws: Workspace,
    plans: BothPlans,
    outcome: BothOutcomes,
    policy: GatePolicy,
    *,
    spend_cap: float | None,
    deadline: float | None = None,
) -> dict[str, SetEvidence]:
    pending = []
    for c in outcome.comparisons:
        found = first_stage_evidence(c, _max_drop(c, policy), policy.alpha)
        if found is None:
            continue
        shown = {e.case_id for e in found.cases}
        flips = [case_id for case_id in found.candidates if case_id not in shown]
        whole = found.first is not None and needs_second_stage(found.first, policy.alpha)
        chosen = list(c.after.cases) if whole and c.after else flips
        pending.append(_Pending(c, found, flips, chosen if policy.max_repeat else [], whole))
    todo = [p for p in pending if p.resampled]
    not_run = "[gate] max_repeat = 0"
    if todo:
        try:
            outcomes = _run_second(
                ws, _second_plans(plans, todo, policy.max_repeat), spend_cap, deadline
            )
        except CannotEvaluate as exc:
            not_run, todo = str(exc), []
    if not todo:
        return {
            p.comparison.set_id: replace(p.found, not_resampled=not_run if p.flips else None)
            for p in pending
        }
    return {p.comparison.set_id: _evidence(p, outcomes, policy) for p in pending}


def _second_plans(plans: BothPlans, todo: list[_Pending], extra: int) -> tuple[EvalPlan, EvalPlan]:
    def side(plan: EvalPlan, pick) -> EvalPlan:
        by_key = {p.set_key: p for p in plan.sets}
        sets = []
        for pending in todo:
            outcome = pick(pending.comparison)
            set_plan: SetPlan = by_key[outcome.plan.set_key]
            start = first_samples(pending.comparison)
            sets.append(resample(set_plan, pending.resampled, range(start, start + extra)))
        return EvalPlan(plan.snapshot, plan.renderer, tuple(sets))

    return side(plans.before, lambda c: c.before), side(plans.after, lambda c: c.after)


def _run_second(
    ws: Workspace, plans: tuple[EvalPlan, EvalPlan], spend_cap: float | None, deadline: float | None
):
    ends = time.monotonic() + deadline if deadline is not None else None
    store = Store(ws.db_path)
    try:
        if spend_cap is not None:
            check_spend_of(store, plans, spend_cap, what="re-sampling the flipped cases")
        return [
            Runner(store, ws.settings, str(ws.root), deadline=ends).run(
                plan,
                snapshot_label=plan.snapshot.label,
                commit_sha=plan.snapshot.commit,
                command="check (re-sample)",
            )
            for plan in plans
        ]
    finally:
        store.close()


def _evidence(pending: _Pending, outcomes, policy: GatePolicy) -> SetEvidence:
    c, found = pending.comparison, pending.found
    if not pending.resampled or c.before is None or c.after is None:
        return found
    before, after = (
        next(s for s in run.sets if s.plan.set_key == side.plan.set_key)
        for run, side in zip(outcomes, (c.before, c.after), strict=True)
    )
    start = first_samples(c)
    pairs = paired_cases(before, after, range(start, start + policy.max_repeat))
    second = paired_stats(
        pairs, seed=comparison_seed(c) + 1, max_drop=_max_drop(c, policy), clusters=case_clusters(c)
    )
    share = case_share(start, "second")
    return replace(
        found,
        second=second if pending.whole else None,
        cases=found.cases
        + case_evidence(pairs, pending.flips, policy.alpha, share, safety=c.safety),
        calls=sum(r.called for side in (before, after) for r in side.results),
        not_resampled=_not_checked(before, after, pending.flips),
    )


def _max_drop(c: SetComparison, policy: GatePolicy) -> float:
    return max_drop_of(c, policy.max_drop, policy.safety_max_drop)


def _not_checked(before, after, candidates: list[str]) -> str | None:
    unchecked = [r for s in (before, after) for r in s.unchecked if r.case_id in candidates]
    if not unchecked:
        return None
    first = next((r.error for r in unchecked if r.error), "no recording")
    return f"{len(unchecked)} re-sample(s) not checked ({first.split(';')[0][:80]})"


def record_comparisons(
    ws: Workspace,
    comparisons: list[SetComparison],
    evidence: dict[str, SetEvidence],
    *,
    replace: bool = True,
) -> None:
    """Keep each set's figures under its two keys, for log and the TUI. `replace=False` (the
    first stage alone) never overwrites what a check that re-sampled stored."""
    rows = [
        {
            "key": comparison_key(c.before.plan.set_key, c.after.plan.set_key),
            "before_key": c.before.plan.set_key,
            "after_key": c.after.plan.set_key,
            "set_id": c.set_id,
            "figures": json.dumps(
                dataclasses.replace(evidence[c.set_id], pairwise=c.pairwise).to_json()
            ),
            "created_at": now(),
        }
        for c in comparisons
        if c.before is not None and c.after is not None and c.set_id in evidence
    ]
    store = Store(ws.db_path)
    try:
        store.save_comparisons(rows, replace=replace)
    finally:
        store.close()


def with_stored_evidence(
    ws: Workspace, comparisons: list[SetComparison], evidence: dict[str, SetEvidence]
) -> dict[str, SetEvidence]:
    """The first stage, or what a check that re-sampled the same two set keys found, where it
    did: `diff --eval` then says what the gate said."""
    keys = {
        c.set_id: (c.before.plan.set_key, c.after.plan.set_key)
        for c in comparisons
        if c.before is not None and c.after is not None
    }
    store = Store.for_reading(ws.db_path)
    try:
        found = stored_evidence(store, keys.values())
    finally:
        store.close()
    richer = dict(evidence)
    for set_id, pair in keys.items():
        stored = found.get(pair)
        if stored is not None and (stored.cases or stored.second is not None):
            richer[set_id] = stored
    return richer
