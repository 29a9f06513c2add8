"""`promptvc bisect SET [--case ID] GOOD BAD`: the first commit where a set's score dropped."""

from __future__ import annotations

from promptvc.wording import money, plural
from promptvc.workspace import Workspace


def run(set_name: str, good: str, bad: str, *, case_id: str | None, below: float | None) -> int:
    from promptvc.bisection import Step, bisect
    from promptvc.diff import commit_report
    from promptvc.store import Store
    from promptvc.views.diff import stat_line
    from promptvc.views.terminal import console

    out = console()
    ws = Workspace.open()
    store = Store(ws.db_path)
    what = f"{set_name}/{case_id}" if case_id else set_name

    def show(step: Step) -> None:
        out.print(f"  {step_line(step)}", highlight=False)

    out.print(f"promptvc bisect · {what} · {good}..{bad}", style="bold")
    found = bisect(ws, store, set_name, good, bad, case_id=case_id, below=below, on_step=show)
    first = found.first_bad
    commit = first.commit
    subject = f"  {commit.subject}" if commit else ""
    out.print(f"first bad commit: {first.sha[:7]}{subject}", style="bold", highlight=False)
    parent = commit.parents[0] if commit and commit.parents else None
    report = commit_report(ws, first.sha, parent, found.set_id)
    out.print(f"  {stat_line(report)}", highlight=False)
    criterion = "the case fails" if case_id else f"the score is below {found.cut:.2f}"
    out.print(
        f"bad: {criterion} · {plural(found.candidates, 'commit')} in the range change "
        f"{found.set_id}'s inputs; visited {plural(len(found.steps) + 2, 'step')}, "
        f"evaluated {found.evaluated} ({plural(found.calls, 'call')}, {money(found.cost)}), "
        "the rest from the store and notes",
        style="dim",
        highlight=False,
    )
    return 0


def step_line(step) -> str:
    value = "—" if step.value is None else f"{step.value:.2f}"
    verdict = {True: "bad", False: "good", None: "skipped"}[step.bad]
    where = (
        ("from a note (ci)" if step.source == "ci" else "stored")
        if step.stored
        else f"evaluated: {plural(step.calls, 'call')}, {money(step.cost)}"
    )
    subject = step.commit.subject if step.commit else ""
    subject = f"({step.role}) {subject}" if step.role else subject
    return f"{step.sha[:7]}  {value:>5}  {verdict:<7} {where:<32} {subject}"
