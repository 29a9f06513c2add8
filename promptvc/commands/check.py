"""`promptvc check`: the pre-commit gate. Judges exactly what is about to be committed.

A commit that touches no prompt, golden set or config returns at once: this path imports
neither jinja2, yaml, sqlite-utils, rich nor the SDK, and opens no connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptvc.changes import between_commits, changed_paths, watched
from promptvc.errors import UserError
from promptvc.git.invocation import amending
from promptvc.git.snapshot import EMPTY, INDEX, Commit, Where
from promptvc.wording import plural
from promptvc.workspace import Workspace

if TYPE_CHECKING:
    from promptvc.evaluation.batching import BatchMode


@dataclass(frozen=True)
class Sides:
    old: Where
    new: Where
    label: str  # what the header says is compared
    base_name: str  # what "no worse than …" names
    skip_hint: str  # how to skip the gate once, or "" where it cannot be skipped (CI)


def sides(ws: Workspace, base: str | None) -> Sides:
    """Staged vs HEAD (vs HEAD's parent for an amend); merge-base(BASE, HEAD) vs HEAD; pre-commit's
    FROM/TO refs (pre-push)."""
    repo = ws.repo
    from_ref, to_ref = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if from_ref and to_ref:
        return Sides(
            ws.resolve(from_ref),
            ws.resolve(to_ref),
            f"{from_ref[:7]}..{to_ref[:7]}",
            from_ref[:7],
            "git push --no-verify",
        )
    if base:
        head = repo.resolve("HEAD")
        merge_base = repo.merge_base(repo.resolve(base), head)
        return Sides(
            Commit(merge_base),
            Commit(head),
            f"HEAD ({head[:7]}) vs merge-base with {base} ({merge_base[:7]})",
            f"the merge-base with {base}",
            "",
        )
    current = repo.try_resolve("HEAD")
    if current is None:
        return Sides(
            EMPTY,
            INDEX,
            "staged (first commit, thresholds only)",
            "the empty tree",
            "git commit --no-verify",
        )
    if (
        amending()
    ):  # the amended commit is replaced: its parent is what the result must be no worse than
        parent = repo.try_resolve(f"{current}^")
        label = f"staged, amended commit ({current[:7]}) vs its parent ({parent[:7] if parent else 'the empty tree'})"
        return Sides(
            Commit(parent) if parent else EMPTY,
            INDEX,
            label,
            "the amended commit's parent",
            "git commit --no-verify",
        )
    return Sides(
        Commit(current), INDEX, f"staged vs HEAD ({current[:7]})", "HEAD", "git commit --no-verify"
    )


def touches_prompts(ws: Workspace, old: Where, new: Where) -> bool:
    changed = changed_paths(ws, old, new)
    if watched(ws, changed):
        return True
    if any(os.path.islink(ws.root / p.rstrip("/")) for p in ws.settings.watched_paths):
        return True  # a linked prompts/ hides its changes from git's paths: the check refuses it
    changed_py = {p for p in changed if p.endswith(".py")}
    return bool(changed_py) and bool(changed_py & _python_assertion_files(ws, old, new))


def _python_assertion_files(ws: Workspace, old: Where, new: Where) -> set[str]:
    """The files that the staged golden sets' python assertions load, on either side (a helper
    deleted by the change counts). Only a commit that changes a .py file pays for this."""
    from promptvc.evals.pyassert import python_dependencies
    from promptvc.graph import schema_modules

    modules = ws.catalog(ws.snapshot(new)).python_modules()
    modules |= schema_modules(ws.renderer(ws.snapshot(new)))
    if not modules:
        return set()
    return set(python_dependencies(ws.snapshot(old), modules)) | set(
        python_dependencies(ws.snapshot(new), modules)
    )


def pushed_sides(ws: Workspace, remote: str, lines: list[str]) -> list[Sides]:
    """pre-push: each pushed ref against what the remote has (see promptvc.git.push)."""
    from promptvc.git.push import plan_push

    plan = plan_push(ws.repo, remote, lines)
    for line in plan.skipped:
        print(f"promptvc check: {line}")
    return [
        Sides(
            Commit(r.base),
            Commit(r.head),
            f"push {r.ref.removeprefix('refs/heads/')} to {remote}: {r.head[:7]} vs {r.base_name}",
            r.base_name,
            "git push --no-verify",
        )
        for r in plan.ranges
    ]


def run(
    base: str | None,
    markdown: str | None,
    junit: str | None,
    strict: bool = False,
    verbose: bool = False,
    pre_push: str | None = None,
    dry_run: bool = False,
    batch: BatchMode | None = None,
    notes: bool = False,
    each_tier: bool = False,
) -> int:
    """`pre_push` is the remote's name when git's pre-push hook runs this, with the refs on stdin.
    `batch`: both sides' model requests go through the batch API (`--batch`)."""
    if os.environ.get("PROMPTVC_SKIP") == "1":
        print("promptvc check: skipped (PROMPTVC_SKIP=1)")
        return 0
    from promptvc.views.reportfile import check_path

    for report in (markdown, junit):
        if report:
            check_path(report)  # a path that cannot be written is refused before anything is run
    ws = Workspace.open()
    if pre_push is not None:
        import sys

        compared = pushed_sides(ws, pre_push, sys.stdin.read().splitlines())
    else:
        compared = [sides(ws, base)]
    touching = [c for c in compared if touches_prompts(ws, c.old, c.new)]
    # Between two commits the history is scanned too: a range whose net change is nothing may
    # still hold a key that one commit added and the next took out.
    scanned = [c for c in compared if c in touching or between_commits(c.old, c.new)]
    if not dry_run and any([_refuse_secrets(ws, c) for c in scanned]):
        return 1
    compared = touching
    codes = [
        _dry_run(ws, c, batch is not None)
        if dry_run
        else _check(ws, c, markdown, junit, strict, batch, each_tier)
        for c in compared
    ]
    if (
        not codes and verbose
    ):  # the hook runs on every commit: silent on the ones it has nothing to say about
        print("promptvc check: no prompt, golden set or config change to check")
    if notes and codes and not dry_run:
        _write_notes(ws, compared)
    return max(codes, default=0)


def _refuse_secrets(ws: Workspace, compared: Sides) -> bool:
    """Before anything is sent: a secret in a file this change adds or edits refuses it."""
    from promptvc.changes import secrets_added
    from promptvc.secrets import ALLOW_HINT

    findings = secrets_added(ws, compared.old, compared.new)
    for finding in findings:
        print(f"promptvc check: {finding}")
    if findings:
        print(f"({ALLOW_HINT})")
        print(f"blocked: a secret in {compared.label}; nothing was evaluated")
    return bool(findings)


def _write_notes(ws: Workspace, compared: list[Sides]) -> None:
    """`check --base --notes`: both commits compared get their scores as notes."""
    import sys

    from promptvc.notes import write_notes
    from promptvc.store import Store

    commits = [w.sha for c in compared for w in (c.old, c.new) if isinstance(w, Commit)]
    for done in write_notes(ws, Store(ws.db_path), commits):
        print(done.line, file=sys.stderr)


def _dry_run(ws: Workspace, compared: Sides, batch: bool = False) -> int:
    """What the gate would send for this comparison, and its cost; nothing is sent."""
    from promptvc.evaluation.both import dry_run_both, plan_both
    from promptvc.views.dryrun import print_dry_run

    result = dry_run_both(ws, plan_both(ws, compared.old, compared.new), batch=batch)
    how = " · --batch (model calls at half price)" if batch else ""
    print_dry_run(f"promptvc check · {compared.label}{how}", result)
    cap = ws.settings.spend_cap
    if cap is not None and result.total.cost > cap:
        from promptvc.wording import money

        print(f"above the spend cap {money(cap)} in promptvc.toml: the gate would not send it")
    return 0


def _check(
    ws: Workspace,
    compared: Sides,
    markdown: str | None,
    junit: str | None,
    strict: bool,
    batch: BatchMode | None = None,
    each_tier: bool = False,
) -> int:
    import time

    from promptvc.evaluation.both import evaluate_both, plan_both
    from promptvc.evaluation.resample import gather_evidence, record_comparisons
    from promptvc.gate import decide
    from promptvc.significance import first_evidence
    from promptvc.views import eval as evalview
    from promptvc.views import reportfile
    from promptvc.views.terminal import emit

    policy = ws.settings.gate
    started = time.monotonic()
    plans = plan_both(ws, compared.old, compared.new)
    # A batch takes minutes to hours: with --batch the CI job's own timeout bounds the wait, not
    # the hook's [gate] deadline (an interrupted check picks its batches up when run again).
    outcome = evaluate_both(
        ws,
        plans,
        command="check",
        spend_cap=ws.settings.spend_cap,
        deadline=None if batch else policy.deadline,
        batch=batch,
        each_tier=each_tier,
    )
    before, after, comparisons = outcome.before, outcome.after, outcome.comparisons
    rejected = before.stats.rejected + after.stats.rejected
    if rejected:  # the API refused a request (an unknown model, a prompt too long): never "allowed"
        raise UserError(rejected[0])
    if policy.block_on == "evidence":
        evidence = gather_evidence(
            ws,
            plans,
            outcome,
            policy,
            spend_cap=ws.settings.spend_cap,
            deadline=max(0.0, policy.deadline - (time.monotonic() - started)),
        )
    else:
        evidence = first_evidence(
            comparisons, policy.max_drop, policy.alpha, policy.safety_max_drop
        )
    record_comparisons(ws, comparisons, evidence)
    verdict = decide(comparisons, policy, compared.base_name, evidence)
    verdict = _with_unverified_judge(ws, plans.after.renderer, after.sets, verdict)
    unreachable = before.stats.unreachable + after.stats.unreachable
    if markdown:  # the reports first: the verdict on screen is the last word
        reportfile.write(
            markdown,
            markdown_summary(compared.label, comparisons, verdict, evidence, policy.alpha),
        )
    if junit:
        reportfile.write(junit, evalview.junit_xml(after.sets, after.elapsed))
    emit(_report_lines(compared, after, comparisons, verdict, unreachable, evidence, policy.alpha))
    if unreachable and ws.settings.gate.offline == "block":
        return 3
    if verdict.blocked:
        return 1
    unchecked = evalview.unchecked_sets_text(after.sets)
    if strict and unchecked:
        from promptvc.errors import CannotEvaluate

        raise CannotEvaluate(f"--strict: {unchecked}")
    return 0


def _with_unverified_judge(ws: Workspace, renderer, sets, verdict):
    """[judge] min_kappa: scores from a judge that people have not verified warn, or block with
    [gate] unverified_judge = "block" (the rule is promptvc.calibration's)."""
    if ws.settings.min_kappa is None:
        return verdict
    from dataclasses import replace

    from promptvc.calibration import gate_note, unverified_sets
    from promptvc.store import Store

    store = Store.for_reading(ws.db_path)
    try:
        evaluated = [s.golden for s in sets if s.score is not None]
        note = gate_note(unverified_sets(store, renderer, ws.settings, evaluated), ws.settings.gate)
    finally:
        store.close()
    if note is None:
        return verdict
    text, blocks = note
    if blocks:
        return replace(verdict, blocked=True, reasons=(*verdict.reasons, text))
    return replace(verdict, warnings=(*verdict.warnings, text))


def _report_lines(
    compared: Sides, after, comparisons, verdict, unreachable: list[str], evidence, alpha: float
) -> list:
    from rich.text import Text

    from promptvc.views import eval as evalview
    from promptvc.views.comparison import comparison_lines, cost_lines

    total = sum(len(s.results) for s in after.sets)
    rerun = sum(1 for s in after.sets for r in s.results if r.called)
    sets = plural(len(after.sets), "golden set")
    resampled = sum(e.calls for e in evidence.values())
    again = f", {plural(resampled, 'request')} re-sampled" if resampled else ""
    lines = [
        Text(
            f"promptvc check · {compared.label} · {sets}, {rerun} of {plural(total, 'case')} re-run{again}",
            style="bold",
        )
    ]
    lines += comparison_lines(comparisons, evidence=evidence, alpha=alpha) + cost_lines(comparisons)
    lines += evalview.route_lines(after.sets)
    if unreachable:
        lines.append(
            Text(
                f"could not evaluate {plural(len(unreachable), 'case')}: {unreachable[0]}",
                style="bold yellow",
            )
        )
    judged = any(o.pairs for c in comparisons for o in c.pairwise)  # the pairwise judge evaluated
    nothing = None if judged else evalview.nothing_evaluated_text(after.sets)
    if nothing:
        lines.append(Text(nothing, style="bold yellow"))
    lines.append(Text(verdict.line(), style="bold red" if verdict.blocked else "bold green"))
    if verdict.blocked and compared.skip_hint:
        lines.append(Text(f"(skip once with `{compared.skip_hint}`)", style="dim"))
    return lines


def markdown_summary(label: str, comparisons, verdict, evidence=None, alpha: float = 0.05) -> str:
    from promptvc.significance import interval_text, p_text, set_word
    from promptvc.views.eval import score_text

    evidence = evidence or {}
    rows = [
        "| golden set | before | after | Δ | 95% CI | p | threshold | status | verdict |",
        "|---|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for c in comparisons:
        before = score_text(c.before.score) if c.before else "—"
        after = score_text(c.after.score) if c.after else "removed"
        delta = f"{c.delta:+.2f}" if c.delta is not None else ""
        threshold = f"{c.after.golden.threshold:.2f}" if c.after else ""
        status = c.after.status if c.after else "removed"
        found = evidence.get(c.set_id)
        first = found.first if found else None
        interval = interval_text(first).removeprefix("95% CI ") if first else ""
        p = p_text(first.p).removeprefix("p=") if first else ""
        word = set_word(found, alpha).text() if found and first else ""
        name = f"{c.set_id} (safety)" if c.safety else c.set_id
        rows.append(
            f"| {name} | {before} | {after} | {delta} | {interval} | {p} | {threshold} | "
            f"{status} | {word} |"
        )
    resampled = {(set_id, e.case_id): e for set_id, found in evidence.items() for e in found.cases}
    flips = [
        f"- `{c.set_id}/{f.case_id}`: {f.before.status} → {f.after.status}"
        + (f" (re-sampled {e.counts()}, {'reproduced' if e.confirmed else 'flaky'})" if e else "")
        for c in comparisons
        for f in c.flips
        for e in [resampled.get((c.set_id, f.case_id))]
    ]
    icon = "❌" if verdict.blocked else "✅"
    parts = [f"## promptvc check · {label}", "", *rows, ""]
    if flips:
        parts += ["**Flipped cases**", "", *flips, ""]
    parts.append(f"{icon} {verdict.line()}")
    return "\n".join(parts) + "\n"
