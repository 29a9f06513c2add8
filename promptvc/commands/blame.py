"""`promptvc blame SET CASE`: a case's status along history (from the store, else CI's notes,
marked "ci"), and the commits that changed it."""

from __future__ import annotations

from datetime import UTC, datetime

from promptvc.workspace import Workspace


def run(set_name: str, case_id: str, rev: str) -> int:
    from promptvc.diff import commit_report
    from promptvc.evals.scoring import Status
    from promptvc.history import case_history
    from promptvc.store import Store
    from promptvc.views.diff import stat_line
    from promptvc.views.terminal import console

    ws = Workspace.open()
    store = Store.for_reading(ws.db_path)  # only reads: works on a read-only database
    set_id, marks = case_history(ws, store, set_name, case_id, rev)
    out = console()
    evaluated = [m for m in marks if m.status in (Status.PASSED, Status.FAILED)]
    if not evaluated:
        out.print(
            f"{set_id}/{case_id}: not evaluated at any of the {len(marks)} commits that changed "
            f"the set (`promptvc eval --rev REV {set_id}` evaluates one)"
        )
        return 0
    out.print(
        f"promptvc blame · {set_id}/{case_id} · {len(marks)} commits changed the set, "
        f"{len(evaluated)} evaluated",
        style="bold",
    )
    before = None  # the last evaluated mark
    for mark in marks:
        day = datetime.fromtimestamp(mark.commit.timestamp, UTC).strftime("%Y-%m-%d")
        flip = ""
        if mark in evaluated:
            if before is not None and before.status != mark.status:
                flip = f"{before.verdict}→{mark.verdict}"
            before = mark
        verdict = f"{mark.verdict} · ci" if mark.source == "ci" else mark.verdict
        out.print(
            f"{mark.commit.short} {day}  {verdict:<13} {flip:<10} {mark.commit.subject}",
            highlight=False,
            style="red" if flip.endswith("fail") else ("green" if flip else None),
        )
        if flip:
            parent = mark.commit.parents[0] if mark.commit.parents else None
            report = commit_report(ws, mark.commit.sha, parent, set_id)
            out.print(f"{'':>20}{stat_line(report)}", highlight=False, style="dim")
    return 0
