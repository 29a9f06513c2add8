"""`promptvc eval`: run golden sets at a snapshot, store the run, show the scores."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from promptvc.errors import CannotEvaluate, Interrupted, PromptvcError, UserError
from promptvc.git.snapshot import INDEX, WORKTREE
from promptvc.names import as_name
from promptvc.wording import plural
from promptvc.workspace import Workspace

if TYPE_CHECKING:
    from rich.console import Console

    from promptvc.evals.goldens import BrokenSet
    from promptvc.evaluation.batching import BatchMode


def run(
    names: tuple[str, ...],
    *,
    pattern: str | None,
    rev: str | None,
    staged: bool,
    changed_since: str | None,
    provider: str | None,
    repeat: int | None,
    concurrency: int | None,
    no_cache: bool,
    as_json: bool,
    junit: str | None,
    strict: bool = False,
    dry_run: bool = False,
    max_cost: float | None = None,
    shard: str | None = None,
    batch: BatchMode | None = None,
    each_tier: bool = False,
    notes: bool = False,
) -> int:
    from promptvc.evals.repeats import MAX_REPEAT
    from promptvc.evaluation.plan import plan_eval, select_sets
    from promptvc.evaluation.runner import Runner
    from promptvc.evaluation.shards import Shard, shard_plan
    from promptvc.store import Store
    from promptvc.views import eval as evalview
    from promptvc.views import reportfile
    from promptvc.views.terminal import console, emit

    if repeat is not None and not 1 <= repeat <= MAX_REPEAT:
        raise UserError(f"--repeat must be from 1 to {MAX_REPEAT}")
    if junit:
        reportfile.check_path(junit)
    part = Shard.parse(shard) if shard is not None else None
    ws = Workspace.open()
    where = INDEX if staged else (ws.resolve(rev) if rev else WORKTREE)
    noted = _noted_commit(ws, where) if notes else None
    snapshot = ws.snapshot(where)
    renderer = ws.renderer(snapshot)
    names = tuple(as_name(n, ws.settings.prompts_dir) for n in names)
    # A golden file that cannot be read is reported with its line, and the other sets still run.
    all_sets, unreadable = ws.read_goldens(snapshot)
    goldens, broken = select_sets(all_sets, names, unreadable)
    if changed_since:
        goldens = _changed_since(ws, changed_since, renderer, goldens, [b.path for b in unreadable])
    plan = plan_eval(
        renderer,
        goldens,
        provider=provider,
        default_provider=ws.settings.provider,
        repeat=repeat,
        pattern=pattern,
        broken=broken,
    )
    if not plan.sets and pattern and goldens:
        # As pytest: a -k that selects nothing is a mistake in the command, not a green run.
        raise UserError(f"-k {pattern!r} matches no case (it is a substring or glob of SET/CASE)")
    planned = bool(plan.sets)
    if part is not None:
        plan = shard_plan(plan, part)
    if not plan.sets:
        why = "no golden sets to evaluate" + (
            f" (nothing changed since {changed_since})" if changed_since else ""
        )
        if planned:
            why = f"shard {part} holds no case of the selected golden sets"
        if as_json:
            print(evalview.empty_json(why, snapshot=snapshot.label, errors=broken))
        elif not broken:
            print(why)
        return _report_broken(broken, 0)
    store = Store(ws.db_path)
    if dry_run:
        _print_dry_run(ws, store, plan, snapshot.label, as_json, batch is not None)
        return _report_broken(broken, 0)
    if max_cost is not None:
        _refuse_above(store, plan, max_cost, batch is not None, no_cache)
    err = console(stderr=True)
    _warn_unchecked(plan)
    if batch is not None:  # through the console the progress bar draws on, above the bar
        batch = replace(
            batch,
            progress=lambda line: err.print(
                f"promptvc: {line}", markup=False, highlight=False, soft_wrap=True
            ),
        )
    with _progress(err, len(plan.jobs), quiet=as_json) as advance:
        runner = Runner(
            store,
            ws.settings,
            str(ws.root),
            no_cache=no_cache,
            concurrency=concurrency,
            on_result=lambda result: advance(),
            batch=batch,
            each_tier=each_tier,
        )
        try:
            outcome = runner.run(
                plan, snapshot_label=snapshot.label, commit_sha=snapshot.commit, command="eval"
            )
        except KeyboardInterrupt:
            run_id = getattr(
                runner, "run_id", None
            )  # None: interrupted before the run was recorded
            kept = store.kept_results(run_id) if run_id is not None else 0
            waiting = " (a submitted batch keeps processing and is picked up)" if batch else ""
            raise Interrupted(
                f"interrupted: {kept} of {plural(len(plan.jobs), 'result')} kept; "
                f"run again to finish{waiting}"
            ) from None
    unverified = _unverified(ws, store, renderer, outcome.sets)
    if noted is not None:
        from promptvc.notes import write_notes

        for done in write_notes(ws, store, [noted]):
            print(done.line, file=sys.stderr)
    if junit:
        reportfile.write(junit, evalview.junit_xml(outcome.sets, outcome.elapsed))
    if as_json:
        print(
            evalview.outcome_json(
                outcome.sets,
                run_id=outcome.run_id,
                snapshot=snapshot.label,
                calls=outcome.stats.calls,
                cost=outcome.stats.cost,
                elapsed=outcome.elapsed,
                errors=broken,
                unverified=unverified,
            )
        )
    else:
        out = console()
        out.print(f"promptvc eval · {snapshot.label} · run {outcome.run_id}", style="bold")
        out.print(evalview.sets_table(outcome.sets, outcome.elapsed, unverified))
        for note in evalview.footnotes(outcome.sets, unverified):
            out.print(note)
        by_case = evalview.repeat_lines(outcome.sets)
        if by_case:
            out.print()
            emit(by_case)
        routes = evalview.route_lines(outcome.sets)
        if routes:
            out.print()
            emit(routes)
        failures = evalview.failure_lines(outcome.sets)
        if failures:
            out.print()
            emit(failures)
        for line in evalview.cache_lines(outcome.sets):
            out.print(line, style="dim")
        reused = sum(1 for s in outcome.sets for r in s.results if not r.fresh)
        tokens = sum(s.tokens for s in outcome.sets)
        out.print(
            evalview.totals_line(
                outcome.sets, len(plan.jobs), outcome.stats.calls, reused, tokens, outcome.elapsed
            ),
            style="dim",
        )
    coverage = evalview.coverage_line(outcome.sets)
    if coverage:
        (err if as_json else console()).print(coverage, style="bold yellow")
    if not broken:
        return exit_code(outcome, strict)
    try:
        exit_code(outcome, strict)
    except PromptvcError as exc:
        print(f"promptvc: {exc}", file=sys.stderr)
    return _report_broken(broken, 0)


def _noted_commit(ws: Workspace, where) -> str:
    """The commit `--notes` notes: the revision evaluated, or HEAD when the working tree is it."""
    from promptvc.git.snapshot import Commit

    if isinstance(where, Commit):
        return where.sha
    head = ws.repo.try_resolve("HEAD")
    if where is WORKTREE and head is not None and ws.repo.is_clean(ws.settings.watched_paths):
        return head
    raise UserError(
        "--notes notes a commit: evaluate one with --rev, or commit (or stash) the changes to "
        "prompts and golden sets first"
    )


def _print_dry_run(ws: Workspace, store, plan, label: str, as_json: bool, batch: bool) -> None:
    from promptvc.evaluation.dryrun import dry_run
    from promptvc.views.dryrun import dry_run_json, print_dry_run

    result = dry_run(store, ws.settings, [("", plan)], batch=batch)
    label = f"{label} · --batch (model calls at half price)" if batch else label
    if as_json:
        print(dry_run_json(result, snapshot=label))
    else:
        print_dry_run(f"promptvc eval · {label}", result)


def _refuse_above(store, plan, cap: float, batch: bool, no_cache: bool) -> None:
    """--max-cost: what the run would send (after the cache) is estimated before anything is."""
    from promptvc.evaluation.plan import estimate_cost
    from promptvc.evaluation.runner import calls_to_send
    from promptvc.wording import money

    calls = calls_to_send(store, plan.jobs, batch=batch, no_cache=no_cache)
    cost = estimate_cost(calls)
    if cost > cap:
        raise CannotEvaluate(
            f"would send {plural(len(calls), 'request')} (est. {money(cost)}), above "
            f"--max-cost {money(cap)}; `promptvc eval --dry-run` shows them per set"
        )


def _unverified(ws: Workspace, store, renderer, outcomes) -> dict[str, str]:
    """[judge] min_kappa: the sets scored by a judge that people have not verified."""
    if ws.settings.min_kappa is None:
        return {}
    from promptvc.calibration import unverified_sets

    evaluated = [o.golden for o in outcomes if o.score is not None]
    return unverified_sets(store, renderer, ws.settings, evaluated)


def _warn_unchecked(plan) -> None:
    """Once per set: cases without assertions pass whatever the model says."""
    for set_plan in plan.sets:
        checked = {job.case.id for job in set_plan.jobs if job.case.asserts}  # output_schema's too
        unchecked = [c for c in set_plan.golden.unchecked_cases if c not in checked]
        if unchecked:
            cases = "1 case has" if len(unchecked) == 1 else f"{len(unchecked)} cases have"
            print(
                f"promptvc: warning: {set_plan.golden.path}: {cases} no assertions and will pass whatever the "
                f"output ({', '.join(unchecked)}); give them `assert`, or the set a set-level `assert`",
                file=sys.stderr,
            )


def _report_broken(broken: list[BrokenSet], code: int) -> int:
    """One line per golden file that could not be read (stderr), after the others' results; exit 2."""
    for item in broken:
        print(f"promptvc: {item.error}", file=sys.stderr)
    return 2 if broken else code


def exit_code(outcome, strict: bool) -> int:
    """3 when the model was unreachable (or, with --strict, a set was not evaluated); 1 for a failed
    set or a case whose own checks errored; else 0, even when sets went unevaluated for want of a key."""
    from promptvc.evaluation.runner import raise_for_faults
    from promptvc.views import eval as evalview

    raise_for_faults(outcome)
    from promptvc.evals.scoring import Status

    if any(s.status == Status.FAILED or s.broken for s in outcome.sets):
        return 1
    unchecked = evalview.unchecked_sets_text(outcome.sets)
    if strict and unchecked:
        raise CannotEvaluate(f"--strict: {unchecked}")
    return 0


def _changed_since(ws: Workspace, rev: str, renderer, goldens, unreadable: list[str]):
    from promptvc.graph import affected_sets

    base = ws.snapshot(ws.resolve(rev))
    # Files that do not parse on either side are left to their own error line, not the graph's.
    base_unreadable = [b.path for b in ws.read_goldens(base)[1]]
    affected = {
        g.id
        for g in affected_sets(
            ws.renderer(base),
            renderer,
            ws.catalog(base, base_unreadable),
            ws.catalog(renderer.snapshot, unreadable),
        )
    }
    return [g for g in goldens if g.id in affected]


@contextmanager
def _progress(err: Console, total: int, quiet: bool) -> Iterator[Callable[[], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal or total < 2,
    ) as progress:
        task = progress.add_task("eval", total=total)
        yield lambda: progress.advance(task)
