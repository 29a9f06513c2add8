"""`promptvc check`: the pre-commit gate. Judges exactly what is about to be committed.

A commit that touches no prompt, golden set or config returns at once: this path imports
neither jinja2, yaml, sqlite-utils, rich nor the SDK, and opens no connection.
"""

from __future__ import annotations

import os
import re
import sys

from promptvc.git.repo import EMPTY_TREE, GitRepo
from promptvc.git.snapshot import EMPTY, INDEX
from promptvc.workspace import Workspace

_PY_ASSERT = re.compile(r"""value:\s*['"]?([\w.]+):\w+""")


def sides(ws: Workspace, base: str | None) -> tuple[str, str, str]:
    """(old, new, label): staged vs HEAD; merge-base(BASE, HEAD) vs HEAD; pre-commit's FROM/TO refs."""
    repo = ws.repo
    from_ref, to_ref = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if from_ref and to_ref:
        return repo.resolve(from_ref), repo.resolve(to_ref), f"{from_ref[:7]}..{to_ref[:7]}"
    if base:
        head = repo.resolve("HEAD")
        merge_base = repo.merge_base(repo.resolve(base), head)
        return merge_base, head, f"HEAD ({head[:7]}) vs merge-base with {base} ({merge_base[:7]})"
    head = repo.try_resolve("HEAD")
    if head is None:
        return EMPTY, INDEX, "staged (first commit, thresholds only)"
    return head, INDEX, f"staged vs HEAD ({head[:7]})"


def touches_prompts(ws: Workspace, old: str, new: str) -> bool:
    repo = ws.repo
    tree = EMPTY_TREE if old == EMPTY else old
    changed = repo.changed_paths(tree, None if new == INDEX else new, [])
    watched = tuple(p.rstrip("/") + "/" for p in ws.settings.watched_paths)
    if any(p.startswith(watched) or p in ws.settings.watched_paths for p in changed):
        return True
    changed_py = {p for p in changed if p.endswith(".py")}
    return bool(changed_py) and bool(changed_py & _python_assertion_modules(repo, ws, new))


def _python_assertion_modules(repo: GitRepo, ws: Workspace, where: str) -> set[str]:
    """Module files that golden sets' python assertions name, found without parsing YAML."""
    snapshot = ws.snapshot(where)
    paths = [p for p in snapshot.under(ws.settings.evals_dir) if p.endswith((".yaml", ".yml"))]
    snapshot.prefetch(paths)
    modules = set()
    for path in paths:
        text = snapshot.read_bytes(path).decode("utf-8", "replace")
        if "python" in text:
            modules |= {m.replace(".", "/") + ".py" for m in _PY_ASSERT.findall(text)}
    return modules


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


def _check(ws: Workspace, old: str, new: str, label: str, markdown: str | None, junit: str | None) -> int:
    from pathlib import Path

    from rich.text import Text

    from promptvc.views import eval as evalview
    from promptvc.commands.diff_eval import evaluate_both
    from promptvc.views.comparison import comparison_lines
    from promptvc.gate import decide
    from promptvc.views.terminal import emit
    from promptvc.errors import UserError

    before, after, comparisons = evaluate_both(ws, old, new, command="check", spend_cap=ws.settings.spend_cap,
                                               deadline=ws.settings.gate.deadline)
    rejected = before.stats.rejected + after.stats.rejected
    if rejected:  # a configuration error is never "allowed"
        raise UserError(rejected[0])
    verdict = decide(comparisons, ws.settings.gate)
    unreachable = before.stats.unreachable + after.stats.unreachable
    total = sum(len(s.results) for s in after.sets)
    rerun = sum(1 for s in after.sets for r in s.results if r.called)
    head = Text(f"promptvc check · {label} · {len(after.sets)} golden set{'s' if len(after.sets) != 1 else ''}, "
                f"{rerun} of {total} cases re-run", style="bold")
    lines = [head] + comparison_lines(comparisons)
    if unreachable:
        lines.append(Text(f"could not evaluate {len(unreachable)} case(s): {unreachable[0]}",
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(None, None, None))
