"""`promptvc diff --eval`: score deltas of the sets a diff affects, at both sides."""

from __future__ import annotations

import dataclasses
import json

from promptvc.workspace import Workspace


def run(
    revs: tuple[str, ...],
    names: tuple[str, ...],
    *,
    staged: bool,
    as_json: bool,
    exit_code: bool,
    dry_run: bool = False,
    each_tier: bool = False,
) -> int:
    from rich.text import Text

    from promptvc.diff import diff_report
    from promptvc.evaluation.both import evaluate_both, plan_both
    from promptvc.evaluation.resample import record_comparisons, with_stored_evidence
    from promptvc.evaluation.runner import raise_for_faults
    from promptvc.git.revisions import diff_range
    from promptvc.significance import first_evidence, paired_json
    from promptvc.views import diff as diffview
    from promptvc.views import eval as evalview
    from promptvc.views.comparison import comparison_lines
    from promptvc.views.terminal import emit

    ws = Workspace.open()
    report = diff_report(ws, revs, names, staged=staged)  # the diff first: --eval adds to it
    span = diff_range(ws.repo, revs, staged)
    # The sets the diff shows as affected (names select them as they select the diff).
    plans = plan_both(ws, span.old, span.new, sets=[a.golden for a in report.affected_sets])
    if dry_run:
        return _dry_run(ws, plans, report, span, as_json)
    outcome = evaluate_both(ws, plans, command="diff --eval", each_tier=each_tier)
    before, after, comparisons = outcome.before, outcome.after, outcome.comparisons
    raise_for_faults(before)
    raise_for_faults(after)
    policy = ws.settings.gate
    evidence = first_evidence(comparisons, policy.max_drop, policy.alpha, policy.safety_max_drop)
    record_comparisons(ws, comparisons, evidence, replace=False)
    evidence = with_stored_evidence(ws, comparisons, evidence)
    if report.judge_changed:
        report = _with_calibrations(ws, span, report)
    if as_json:
        print(
            json.dumps(
                {
                    "schema": "promptvc.diff-eval/1",
                    "old": span.old_label,
                    "new": span.new_label,
                    "diff": diffview.report_dict(report),
                    "sets": [
                        {
                            "id": c.set_id,
                            "before": c.before.score if c.before else None,
                            "after": c.after.score if c.after else None,
                            "delta": c.delta,
                            "paired": paired_json(evidence.get(c.set_id), policy.alpha),
                            "flips": [
                                {
                                    "case": f.case_id,
                                    "before": f.before.status,
                                    "after": f.after.status,
                                    "before_output": f.before.output,
                                    "after_output": f.after.output,
                                }
                                for f in c.flips
                            ],
                            "pairwise": [dataclasses.asdict(o) for o in c.pairwise],
                        }
                        for c in comparisons
                    ],
                },
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        lines = diffview.report_lines(report)
        lines += [Text(""), Text(f"scores · {span.old_label} → {span.new_label}", style="bold")]
        lines += comparison_lines(comparisons, evidence=evidence, alpha=policy.alpha) or [
            Text("no golden set is affected", style="dim")
        ]
        lines += evalview.route_lines(after.sets)
        emit(lines, pager=True)
    changed = not report.empty or any(c.delta or c.flips for c in comparisons)
    return 1 if exit_code and changed else 0


def _dry_run(ws: Workspace, plans, report, span, as_json: bool) -> int:
    from rich.text import Text

    from promptvc.evaluation.both import dry_run_both
    from promptvc.views import diff as diffview
    from promptvc.views.dryrun import dry_run_json, print_dry_run
    from promptvc.views.terminal import emit

    result = dry_run_both(ws, plans)
    if as_json:
        print(dry_run_json(result, old=span.old_label, new=span.new_label))
        return 0
    emit([*diffview.report_lines(report), Text("")])
    print_dry_run(f"promptvc diff --eval · {span.old_label} → {span.new_label}", result)
    return 0


def _with_calibrations(ws: Workspace, span, report):
    """A judge change: each side's judge is calibrated on that side's labels where its κ is not
    stored yet (through the cache, like every judge call), so the diff says what the change did."""
    from dataclasses import replace

    from promptvc.calibration import kappa_changes
    from promptvc.evaluation.calibrate import calibrate

    for where, side in ((span.old, "before"), (span.new, "after")):
        calibrated = [getattr(change, side) for change in report.judge_kappa]
        if any(c is not None and not c.known for c in calibrated):
            calibrate(ws, where)
    old, new = (ws.renderer(ws.snapshot(where)) for where in (span.old, span.new))
    return replace(report, judge_kappa=kappa_changes(ws.db_path, old, new, ws.settings.evals_dir))
