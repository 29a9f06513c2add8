"""`promptvc judge calibrate`: how far the judge of a revision agrees with people's labels."""

from __future__ import annotations

from promptvc.git.snapshot import INDEX, WORKTREE
from promptvc.workspace import Workspace


def calibrate(
    names: tuple[str, ...], *, rev: str | None, staged: bool, provider: str | None, as_json: bool
) -> int:
    from promptvc.evaluation.calibrate import calibrate as run_calibration
    from promptvc.names import as_name
    from promptvc.views import calibration as view
    from promptvc.views.terminal import console, emit

    ws = Workspace.open()
    where = INDEX if staged else (ws.resolve(rev) if rev else WORKTREE)
    names = tuple(as_name(n, ws.settings.prompts_dir) for n in names)
    run = run_calibration(ws, where, names, provider=provider)
    if as_json:
        print(view.report_json(run))
    else:
        emit(view.report_lines(run))
    if not any(item.agreement for item in run.sets):
        labels = sum(len(item.labels) for item in run.sets)
        (console(stderr=True) if as_json else console()).print(
            f"nothing was judged: {labels} labels, none scored by the judge", style="bold yellow"
        )
    return 0
