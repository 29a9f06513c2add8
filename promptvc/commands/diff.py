"""`promptvc diff`: what a prompt/config diff really changes."""

from __future__ import annotations

from promptvc.diff import diff_report
from promptvc.workspace import Workspace


def run(
    revs: tuple[str, ...],
    names: tuple[str, ...],
    *,
    staged: bool,
    as_json: bool,
    name_only: bool,
    stat: bool,
    exit_code: bool,
    all_cases: bool,
) -> int:
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
