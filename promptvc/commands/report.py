"""`promptvc report`: a comparison of two revisions as one self-contained HTML page."""

from __future__ import annotations

import sys

from promptvc.wording import plural
from promptvc.workspace import Workspace


def run(
    revs: tuple[str, ...], *, staged: bool, output: str, evaluate: bool, every_set: bool
) -> int:
    from promptvc.evaluation.both import plan_both
    from promptvc.git.revisions import diff_range
    from promptvc.views import reportfile
    from promptvc.views.htmlreport import build_page, nothing_compared, render_html

    reportfile.check_path(output)  # a path that cannot be written is refused before any work
    ws = Workspace.open()
    span = diff_range(ws.repo, revs, staged)
    plans = plan_both(ws, span.old, span.new, scope="all" if every_set else "affected")
    comparisons, evidence = (_evaluated if evaluate else _stored)(ws, plans)
    planned = list(dict.fromkeys(p.golden.id for plan in plans.plans for p in plan.sets))
    page = build_page(
        comparisons,
        evidence,
        (plans.before.renderer, plans.after.renderer),
        labels=(span.old_label, span.new_label),
        planned=planned,
        alpha=ws.settings.gate.alpha,
        evaluated=evaluate,
    )
    reportfile.write(output, render_html(page))
    flips = sum(len(s.flips) for s in page.sets)
    print(f"wrote {output}: {plural(len(page.sets), 'set')}, {plural(flips, 'flip')}")
    if page.notice and nothing_compared(comparisons):
        print(f"promptvc: {page.notice}", file=sys.stderr)
    return 0


def _stored(ws: Workspace, plans):
    """What the store has for both sides: nothing is sent."""
    from promptvc.evaluation.resample import with_stored_evidence
    from promptvc.evaluation.stored import stored_comparisons
    from promptvc.significance import first_evidence

    comparisons = stored_comparisons(ws, plans)
    policy = ws.settings.gate
    evidence = first_evidence(comparisons, policy.max_drop, policy.alpha)
    if evidence:  # what a check that re-sampled these two set keys found, where one did
        evidence = with_stored_evidence(ws, comparisons, evidence)
    return comparisons, evidence


def _evaluated(ws: Workspace, plans):
    """Both sides evaluated as `diff --eval` does (stored results reused), and its figures kept."""
    from promptvc.evaluation.both import evaluate_both
    from promptvc.evaluation.resample import record_comparisons, with_stored_evidence
    from promptvc.evaluation.runner import raise_for_faults
    from promptvc.significance import first_evidence

    outcome = evaluate_both(ws, plans, command="report --eval")
    raise_for_faults(outcome.before)
    raise_for_faults(outcome.after)
    policy = ws.settings.gate
    evidence = first_evidence(outcome.comparisons, policy.max_drop, policy.alpha)
    record_comparisons(ws, outcome.comparisons, evidence, replace=False)
    return outcome.comparisons, with_stored_evidence(ws, outcome.comparisons, evidence)
