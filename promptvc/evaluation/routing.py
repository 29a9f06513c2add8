"""One case through a routed prompt, as production runs it: each tier in turn until no rule fires
(the last tier's answer stands). The tiers past the answer are graded for the report only, where
that costs nothing now or `each_tier` asks for them. The runner answers and grades each tier;
this module decides which tiers are asked and what the case's result is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from promptvc.errors import UserError
from promptvc.evals.routes import TierOutcome, answer_tier, fired, tiers_from_json
from promptvc.evals.scoring import CaseResult, Status
from promptvc.evaluation.plan import CaseJob, PlannedRoute, RouteStep
from promptvc.providers import ProviderError, Skipped

GradeAt = Callable[[RouteStep], Awaitable[CaseResult]]  # the case as one tier answers it, graded


async def run_route(
    job: CaseJob, route: PlannedRoute, grade_at: GradeAt, report: Callable[[RouteStep], bool]
) -> CaseResult:
    """The answering tier's result, costing every model call on its path; `report(step)`: whether
    a tier past the answer is graded for the report of each tier alone."""
    path: list[CaseResult] = []
    outcomes: list[TierOutcome] = []
    for step in route.steps:
        graded = await grade_at(step)
        rule = fired(route.route.rules, job.case.asserts, graded.grades, graded.output or "")
        escalated = rule.describe() if rule and step is not route.steps[-1] else None
        path.append(graded)
        outcomes.append(_tier_outcome(step, graded, escalated))
        if escalated is None:
            break
    extras: list[CaseResult] = []
    for step in route.steps[len(path) :]:
        if report(step):
            extra = await _report_only(grade_at, step)
            if extra is not None:
                extras.append(extra)
                outcomes.append(_tier_outcome(step, extra, None, answered=False))
    return replace(
        path[-1],
        cost=_path_cost(path),
        spent=sum(r.spent for r in (*path, *extras)),
        tier=answer_tier(outcomes),
        tiers=tuple(outcomes),
    )


def tiers_wanted(job: CaseJob, row: dict, each_tier: bool) -> bool:
    """A stored routed result lacks tiers that `each_tier` asks for: it is evaluated again
    (its route's answers come from the cache; only the missing tiers are sent)."""
    return (
        each_tier
        and job.route is not None
        and len(tiers_from_json(row.get("route"))) < len(job.route.steps)
    )


async def _report_only(grade_at: GradeAt, step: RouteStep) -> CaseResult | None:
    """A tier past the route's answer, graded to report it alone; one that cannot be answered
    (no recording, an error) is left out of the report, never the case's failure."""
    try:
        graded = await grade_at(step)
    except (Skipped, ProviderError, UserError):
        return None
    return graded if graded.evaluated else None


def _path_cost(path: list[CaseResult]) -> float | None:
    """What a route's model calls for one case cost: None when no tier's price is known."""
    known = [r.cost for r in path if r.cost is not None]
    return sum(known) if known else None


def _tier_outcome(
    step: RouteStep, graded: CaseResult, escalated: str | None, *, answered: bool = True
) -> TierOutcome:
    return TierOutcome(
        step.tier,
        graded.score,
        graded.status == Status.PASSED,
        graded.cost,
        escalated,
        answered,
    )
