"""`promptvc diff --eval`: score deltas of the sets a diff affects, at both sides."""

from __future__ import annotations

import json

from promptvc.workspace import Workspace


def evaluate_both(ws: Workspace, old_where: str, new_where: str, *, provider: str | None = None,
                  command: str = "diff --eval", spend_cap: float | None = None, deadline: float | None = None):
    """Evaluate the sets the change between two snapshots affects, on both sides (reusing stored results),
    within `deadline` seconds when given (what is left then is an error: could not evaluate)."""
    import time
    from promptvc.compare import compare
    from promptvc.graph import affected_sets
    from promptvc.evaluation.plan import plan_eval
    from promptvc.evaluation.runner import Runner
    from promptvc.store import Store

    ends = time.monotonic() + deadline if deadline is not None else None
    old_snap, new_snap = ws.snapshot(old_where), ws.snapshot(new_where)
    old, new = ws.renderer(old_snap), ws.renderer(new_snap)
    old_goldens, new_goldens = ws.catalog(old_snap), ws.catalog(new_snap)
    after_sets = affected_sets(old, new, old_goldens, new_goldens)
    before_ids = old_goldens.ids()
    before_sets = [old_goldens.load(before_ids[g.id]) for g in after_sets if g.id in before_ids]
    store = Store(ws.db_path)
    plans = [plan_eval(renderer, goldens, provider=provider, default_provider=ws.settings.provider)
             for renderer, goldens in ((old, before_sets), (new, after_sets))]
    if spend_cap is not None:  # both sides together
        _check_spend(store, [j for plan in plans for j in plan.jobs], spend_cap)
    outcomes = [Runner(store, ws.settings, str(ws.root), deadline=ends).run(
        plan, snapshot_label=plan.snapshot.label, commit_sha=plan.snapshot.commit, command=command) for plan in plans]
    store.close()
    return outcomes[0], outcomes[1], compare(list(outcomes[0].sets), list(outcomes[1].sets))


def _check_spend(store, jobs, cap: float) -> None:
    from promptvc.errors import CannotEvaluate
    from promptvc.evaluation.plan import estimate_cost
    from promptvc.evaluation.runner import jobs_to_send
    todo = jobs_to_send(store, jobs)
    estimate = estimate_cost(todo)
    if estimate > cap:
        raise CannotEvaluate(f"would send {len(todo)} requests (est. ${estimate:.4f}), above the spend cap "
                             f"${cap:.2f} in promptvc.toml; run `promptvc eval` by hand to spend it")


def run(revs: tuple[str, ...], names: tuple[str, ...], *, staged: bool, as_json: bool, exit_code: bool) -> int:
    from rich.text import Text

    from promptvc.views.comparison import comparison_lines
    from promptvc.views.terminal import emit
    from promptvc.git.revisions import diff_range
    from promptvc.evaluation.runner import raise_for_faults

    ws = Workspace.open()
    span = diff_range(ws.repo, revs, staged)
    before, after, comparisons = evaluate_both(ws, span.old, span.new)
    if names:
        comparisons = [c for c in comparisons if c.set_id in names or (c.after and c.after.golden.prompt in names)]
    raise_for_faults(before)
    raise_for_faults(after)
    if as_json:
        print(json.dumps({"schema": "promptvc.diff-eval/1", "old": span.old_label, "new": span.new_label, "sets": [{
            "id": c.set_id, "before": c.before.score if c.before else None,
            "after": c.after.score if c.after else None, "delta": c.delta,
            "flips": [{"case": f.case_id, "before": f.before.status, "after": f.after.status,
                       "before_output": f.before.output, "after_output": f.after.output} for f in c.flips],
        } for c in comparisons]}, indent=2, ensure_ascii=False))
    else:
        lines = [Text(f"promptvc diff --eval · {span.old_label} → {span.new_label}", style="bold")]
        lines += comparison_lines(comparisons) or [Text("no golden set is affected", style="dim")]
        emit(lines, pager=True)
    changed = any(c.delta or c.flips for c in comparisons)
    return 1 if exit_code and changed else 0
