"""`promptvc diff`: what a prompt/config diff really changes."""

from __future__ import annotations

from promptvc.diff import DiffReport, compute_diff
from promptvc.git.revisions import diff_range
from promptvc.workspace import Workspace


def diff_report(ws: Workspace, revs: tuple[str, ...], names: tuple[str, ...], *, staged: bool = False,
                all_cases: bool = False) -> DiffReport:
    from promptvc.names import as_name

    names = tuple(as_name(n, ws.settings.prompts_dir) for n in names)
    span = diff_range(ws.repo, revs, staged)
    old_snap, new_snap = ws.snapshot(span.old), ws.snapshot(span.new)
    old, new = ws.renderer(old_snap), ws.renderer(new_snap)
    return compute_diff(
        old, new, ws.catalog(old_snap), ws.catalog(new_snap),
        old_label=span.old_label, new_label=span.new_label, names=names, all_cases=all_cases,
    )



def run(revs: tuple[str, ...], names: tuple[str, ...], *, staged: bool, as_json: bool, name_only: bool,
        stat: bool, exit_code: bool, all_cases: bool) -> int:
    from promptvc.views import diff as diffview
    from promptvc.views.terminal import emit

    ws = Workspace.open()
    report = diff_report(ws, revs, names, staged=staged, all_cases=all_cases)
    if as_json:
        print(diffview.report_json(report))
    elif name_only:
        emit(diffview.name_lines(report))
    elif stat:
        emit(diffview.stat_lines(report))
    else:
        emit(diffview.report_lines(report), pager=True)
    return 1 if exit_code and not report.empty else 0
