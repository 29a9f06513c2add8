"""Both sides of a change as the store already has them, sending nothing: what `report` reads.

A set counts as evaluated at a side only when every case the plan would run there has a stored
result: a score from part of a set would not be the set's score.
"""

from __future__ import annotations

from promptvc.compare import SetComparison, compare
from promptvc.evals.scoring import CaseResult, SetOutcome, summarise_set
from promptvc.evaluation.both import BothPlans
from promptvc.evaluation.plan import EvalPlan
from promptvc.store import Store
from promptvc.workspace import Workspace


def stored_comparisons(ws: Workspace, plans: BothPlans) -> list[SetComparison]:
    """The comparison of the planned sets from stored results; a set not fully stored at a side
    is missing there (new, removed or not evaluated), as when it does not exist."""
    if not ws.db_path.exists():
        return compare([], [])
    store = Store.for_reading(ws.db_path)
    try:
        before, after = (stored_outcomes(store, plan) for plan in plans.plans)
    finally:
        store.close()
    return compare(before, after)


def stored_outcomes(store: Store, plan: EvalPlan) -> list[SetOutcome]:
    rows = store.results(job.key for job in plan.jobs)
    outcomes = []
    for set_plan in plan.sets:
        found = [rows.get(job.key) for job in set_plan.jobs]
        if set_plan.jobs and all(found):
            results = [CaseResult.from_row(row) for row in found if row]
            outcomes.append(summarise_set(set_plan, results))
    return outcomes
