"""`promptvc eval`: run golden sets at a snapshot, store the run, show the scores."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

from promptvc.errors import UserError
from promptvc.git.snapshot import INDEX, WORKTREE
from promptvc.workspace import Workspace


def run(names: tuple[str, ...], *, pattern: str | None, rev: str | None, staged: bool, changed_since: str | None,
        provider: str | None, repeat: int, concurrency: int | None, no_cache: bool, as_json: bool,
        junit: str | None) -> int:
    from promptvc.views import eval as evalview
    from promptvc.views.terminal import console, emit
    from promptvc.evaluation.plan import plan_eval, select_sets
    from promptvc.evaluation.runner import Runner, raise_for_faults
    from promptvc.store import Store

    if repeat < 1:
        raise UserError("--repeat must be at least 1")
    ws = Workspace.open()
    where = INDEX if staged else (rev or WORKTREE)
    snapshot = ws.snapshot(where)
    renderer = ws.renderer(snapshot)
    goldens = select_sets(ws.goldens(snapshot), names)
    if changed_since:
        goldens = _changed_since(ws, changed_since, renderer, goldens)
    plan = plan_eval(renderer, goldens, provider=provider, default_provider=ws.settings.provider,
                     repeat=repeat, pattern=pattern)
    if not plan.sets:
        print("no golden sets to evaluate" + (f" (nothing changed since {changed_since})" if changed_since else ""))
        return 0
    store = Store(ws.db_path)
    err = console(stderr=True)
    with _progress(err, len(plan.jobs), quiet=as_json) as advance:
        runner = Runner(store, ws.settings, str(ws.root), no_cache=no_cache, concurrency=concurrency,
                        on_result=lambda result: advance())
        outcome = runner.run(plan, snapshot_label=snapshot.label, commit_sha=snapshot.commit, command="eval")
    if junit:
        Path(junit).write_bytes(evalview.junit_xml(outcome.sets, outcome.elapsed))
    if as_json:
        print(evalview.outcome_json(outcome.sets, run_id=outcome.run_id, snapshot=snapshot.label,
                                    calls=outcome.stats.calls, cost=outcome.stats.cost, elapsed=outcome.elapsed))
    else:
        out = console()
        out.print(f"promptvc eval · {snapshot.label} · run {outcome.run_id}", style="bold")
        out.print(evalview.sets_table(outcome.sets, outcome.elapsed))
        for note in evalview.footnotes(outcome.sets):
            out.print(note)
        failures = evalview.failure_lines(outcome.sets)
        if failures:
            out.print()
            emit(failures)
        reused = sum(1 for s in outcome.sets for r in s.results if not r.fresh)
        tokens = sum(s.tokens for s in outcome.sets)
        out.print(f"\n{len(plan.jobs)} cases · {outcome.stats.calls} calls · {reused} reused · {tokens:,} tokens · "
                  f"${outcome.stats.cost:.4f} · {outcome.elapsed:.2f}s", style="dim")
    raise_for_faults(outcome)
    return 1 if any(s.status == "failed" for s in outcome.sets) else 0


def _changed_since(ws: Workspace, rev: str, renderer, goldens):
    from promptvc.graph import affected_sets
    base = ws.snapshot(rev)
    affected = {g.id for g in affected_sets(ws.renderer(base), renderer, ws.catalog(base), ws.catalog(renderer.snapshot))}
    return [g for g in goldens if g.id in affected]


def _progress(err, total: int, quiet: bool):
    if quiet or not err.is_terminal or total < 2:
        return nullcontext(lambda: None)
    from contextlib import contextmanager
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar():
        with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("eval", total=total)
            yield lambda: progress.advance(task)
    return bar()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(()))
