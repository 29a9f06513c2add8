"""`promptvc check`: the pre-commit gate. Judges exactly what is about to be committed.

A commit that touches no prompt, golden set or config returns at once: this path imports
neither jinja2, yaml, sqlite-utils, rich nor the SDK, and opens no connection.
"""

from __future__ import annotations

import os

from promptvc.git.snapshot import EMPTY, INDEX, Commit, Where
from promptvc.workspace import Workspace


def sides(ws: Workspace, base: str | None) -> tuple[Where, Where, str]:
    """(old, new, label): staged vs HEAD; merge-base(BASE, HEAD) vs HEAD; pre-commit's FROM/TO refs."""
    repo = ws.repo
    from_ref, to_ref = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if from_ref and to_ref:
        return ws.resolve(from_ref), ws.resolve(to_ref), f"{from_ref[:7]}..{to_ref[:7]}"
    if base:
        tip = repo.resolve("HEAD")
        merge_base = repo.merge_base(repo.resolve(base), tip)
        return Commit(merge_base), Commit(tip), f"HEAD ({tip[:7]}) vs merge-base with {base} ({merge_base[:7]})"
    head = repo.try_resolve("HEAD")
    if head is None:
        return EMPTY, INDEX, "staged (first commit, thresholds only)"
    return Commit(head), INDEX, f"staged vs HEAD ({head[:7]})"


def touches_prompts(ws: Workspace, old: Where, new: Where) -> bool:
    repo = ws.repo
    tree = old.sha if isinstance(old, Commit) else repo.empty_tree
    changed = repo.changed_paths(tree, new.sha if isinstance(new, Commit) else None, [])
    watched = tuple(p.rstrip("/") + "/" for p in ws.settings.watched_paths)
    if any(p.startswith(watched) or p in ws.settings.watched_paths for p in changed):
        return True
    changed_py = {p for p in changed if p.endswith(".py")}
    return bool(changed_py) and bool(changed_py & _python_assertion_files(ws, old, new))


def _python_assertion_files(ws: Workspace, old: Where, new: Where) -> set[str]:
    """The files that the staged golden sets' python assertions load, on either side (a helper
    deleted by the change counts). Only a commit that changes a .py file pays for this."""
    from promptvc.evals.pyassert import python_dependencies

    modules = ws.catalog(ws.snapshot(new)).python_modules()
    if not modules:
        return set()
    return set(python_dependencies(ws.snapshot(old), modules)) | set(python_dependencies(ws.snapshot(new), modules))


def run(base: str | None, markdown: str | None, junit: str | None) -> int:
    if os.environ.get("PROMPTVC_SKIP") == "1":
        print("promptvc check: skipped (PROMPTVC_SKIP=1)")
        return 0
    ws = Workspace.open()
    old, new, label = sides(ws, base)
    if not touches_prompts(ws, old, new):
        print("promptvc check: no prompt, golden set or config change to check")
        return 0
    return _check(ws, old, new, label, markdown, junit)


def _check(ws: Workspace, old: Where, new: Where, label: str, markdown: str | None, junit: str | None) -> int:
    from pathlib import Path

    from rich.text import Text

    from promptvc.evaluation.both import evaluate_both, plan_both
    from promptvc.gate import decide
    from promptvc.views import eval as evalview
    from promptvc.views.comparison import comparison_lines
    from promptvc.views.terminal import emit

    outcome = evaluate_both(ws, plan_both(ws, old, new), command="check", spend_cap=ws.settings.spend_cap)
    before, after, comparisons = outcome.before, outcome.after, outcome.comparisons
    verdict = decide(comparisons, ws.settings.gate)
    unreachable = before.stats.unreachable + after.stats.unreachable
    total = sum(len(s.results) for s in after.sets)
    rerun = sum(1 for s in after.sets for r in s.results if r.called)
    head = Text(f"promptvc check · {label} · {len(after.sets)} golden set{'s' if len(after.sets) != 1 else ''}, "
                f"{rerun} of {total} cases re-run", style="bold")
    lines = [head] + comparison_lines(comparisons)
    if unreachable:
        lines.append(Text(f"could not evaluate: {len(unreachable)} call(s) failed after retries ({unreachable[0]})",
                          style="bold yellow"))
    lines.append(Text(verdict.line(), style="bold red" if verdict.blocked else "bold green"))
    if verdict.blocked:
        lines.append(Text("(skip once with `git commit --no-verify`)", style="dim"))
    emit(lines)
    if markdown:
        Path(markdown).write_text(markdown_summary(label, comparisons, verdict), encoding="utf-8")
    if junit:
        Path(junit).write_bytes(evalview.junit_xml(after.sets, after.elapsed))
    if unreachable and ws.settings.gate.offline == "block":
        return 3
    return 1 if verdict.blocked else 0


def markdown_summary(label: str, comparisons, verdict) -> str:
    from promptvc.views.eval import score_text
    rows = ["| golden set | before | after | Δ | threshold | status |", "|---|---:|---:|---:|---:|---|"]
    for c in comparisons:
        before = score_text(c.before.score) if c.before else "—"
        after = score_text(c.after.score) if c.after else "removed"
        delta = f"{c.delta:+.2f}" if c.delta is not None else ""
        threshold = f"{c.after.golden.threshold:.2f}" if c.after else ""
        status = c.after.status if c.after else "removed"
        rows.append(f"| {c.set_id} | {before} | {after} | {delta} | {threshold} | {status} |")
    flips = [f"- `{c.set_id}/{f.case_id}`: {f.before.status} → {f.after.status}" for c in comparisons for f in c.flips]
    icon = "❌" if verdict.blocked else "✅"
    parts = [f"## promptvc check · {label}", "", *rows, ""]
    if flips:
        parts += ["**Flipped cases**", "", *flips, ""]
    parts.append(f"{icon} {verdict.line()}")
    return "\n".join(parts) + "\n"

