"""Evaluating both sides of a change: the use case behind `diff --eval`, `check` and the TUI's
`e`. Plans both snapshots first, so what would be sent (model and judge calls) is known and
held to the spend cap before anything is spent, then runs them, compares, and asks the pairwise
judge where a set has llm-compare assertions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from promptvc.compare import SetComparison, compare
from promptvc.errors import CannotEvaluate
from promptvc.evals.goldens import GoldenSet
from promptvc.evals.scoring import CaseResult
from promptvc.evaluation.batching import BatchMode
from promptvc.evaluation.dryrun import DryRun, Side, dry_run
from promptvc.evaluation.pairwise_judge import judge_pairwise, pairwise_calls
from promptvc.evaluation.plan import EvalPlan, estimate_cost, plan_eval
from promptvc.evaluation.runner import Runner, RunOutcome, calls_to_send
from promptvc.git.snapshot import Where
from promptvc.graph import affected_sets
from promptvc.store import Store
from promptvc.wording import money, plural
from promptvc.workspace import Workspace

Scope = Literal["affected", "all"]


@dataclass(frozen=True)
class BothPlans:
    before: EvalPlan
    after: EvalPlan

    @property
    def plans(self) -> tuple[EvalPlan, EvalPlan]:
        return self.before, self.after


@dataclass(frozen=True)
class Spend:
    """What a run would send: requests to the model and the judge, and their estimated cost."""

    requests: int
    cost: float


@dataclass(frozen=True)
class BothOutcomes:
    before: RunOutcome
    after: RunOutcome
    comparisons: list[SetComparison]


def plan_both(
    ws: Workspace,
    old: Where,
    new: Where,
    *,
    scope: Scope = "affected",
    provider: str | None = None,
    sets: list[GoldenSet] | None = None,
) -> BothPlans:
    """The sets the change affects (or every set, for the TUI), planned at both snapshots.
    `sets`: the affected sets as the caller already knows them (the diff), not computed again."""
    old_snap, new_snap = ws.snapshot(old), ws.snapshot(new)
    old_renderer, new_renderer = ws.renderer(old_snap), ws.renderer(new_snap)
    old_goldens, new_goldens = ws.catalog(old_snap), ws.catalog(new_snap)
    if scope == "affected":
        after_sets = (
            sets
            if sets is not None
            else affected_sets(old_renderer, new_renderer, old_goldens, new_goldens)
        )
        before_ids = old_goldens.ids()
        before_sets = [old_goldens.load(before_ids[g.id]) for g in after_sets if g.id in before_ids]
    else:
        before_sets, after_sets = old_goldens.all(), new_goldens.all()
    before, after = (
        plan_eval(renderer, sets, provider=provider, default_provider=ws.settings.provider)
        for renderer, sets in ((old_renderer, before_sets), (new_renderer, after_sets))
    )
    return BothPlans(before, after)


def spend(store: Store, plans: BothPlans) -> Spend:
    """Both sides together: a cap is a cap on the whole comparison."""
    calls = calls_to_send(store, [job for plan in plans.plans for job in plan.jobs])
    calls += pairwise_calls(store, plans.before, plans.after)
    return Spend(len(calls), estimate_cost(calls))


def dry_run_both(ws: Workspace, plans: BothPlans, *, batch: bool = False) -> DryRun:
    """What evaluating both sides would send, per set and side, sending nothing: the model's and
    judge's calls of each side, and the pairwise judge's (`batch`: as `check --batch` would)."""
    store = Store(ws.db_path)
    try:
        sides: list[tuple[Side, EvalPlan]] = [("before", plans.before), ("after", plans.after)]
        pairwise = pairwise_calls(store, *plans.plans)
        return dry_run(store, ws.settings, sides, pairwise, batch=batch)
    finally:
        store.close()


def check_spend(store: Store, plans: BothPlans, cap: float) -> None:
    needed = spend(store, plans)
    _refuse_above(cap, needed.requests, needed.cost)


def check_spend_of(
    store: Store, plans: tuple[EvalPlan, EvalPlan], cap: float, what: str = ""
) -> None:
    """Re-sampling: only the model's calls and their judges (pairwise judging compares the
    first samples, which the first stage already paid for)."""
    calls = calls_to_send(store, [job for plan in plans for job in plan.jobs])
    _refuse_above(cap, len(calls), estimate_cost(calls), what)


def _refuse_above(cap: float, requests: int, cost: float, what: str = "") -> None:
    if cost > cap:
        doing = f"{what} " if what else ""
        raise CannotEvaluate(
            f"{doing}would send {plural(requests, 'request')} (est. {money(cost)}), above the spend cap "
            f"{money(cap)} in promptvc.toml; run `promptvc eval` by hand to spend it"
        )


def evaluate_both(
    ws: Workspace,
    plans: BothPlans,
    *,
    command: str,
    spend_cap: float | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    deadline: float | None = None,
    batch: BatchMode | None = None,
    each_tier: bool = False,
) -> BothOutcomes:
    """Run both plans (reusing stored results) and compare them, within `deadline` seconds when
    given (what is left then could not be evaluated). One store connection per call, so a TUI
    worker thread can run this. `each_tier`: the new side's routed sets ask every tier, for the
    route report shown of that side (`--each-tier`)."""
    ends = time.monotonic() + deadline if deadline is not None else None
    store = Store(ws.db_path)
    try:
        if spend_cap is not None:
            check_spend(store, plans, spend_cap)
        before, after = (
            Runner(
                store,
                ws.settings,
                str(ws.root),
                on_result=on_result,
                deadline=ends,
                batch=batch,
                each_tier=each_tier and plan is plans.after,
            ).run(
                plan,
                snapshot_label=plan.snapshot.label,
                commit_sha=plan.snapshot.commit,
                command=command,
            )
            for plan in plans.plans
        )
        comparisons = compare(list(before.sets), list(after.sets))
        judge = Runner(store, ws.settings, str(ws.root), deadline=ends)
        comparisons = judge_pairwise(judge, plans.after, comparisons)
    finally:
        store.close()
    return BothOutcomes(before, after, comparisons)
