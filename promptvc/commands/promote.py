"""`promptvc promote FILE.jsonl`: captured production calls become golden cases, for review."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from promptvc.errors import UserError
from promptvc.evals.captures import BadLine, CapturedCall, matching, read_captures
from promptvc.evals.goldens import BrokenSet, GoldenSet
from promptvc.git.snapshot import WORKTREE
from promptvc.wording import plural
from promptvc.workspace import Workspace


def run(capture: str, set_name: str | None, where: Sequence[str], as_failure: bool) -> int:
    source = Path(capture)
    if not source.is_file():
        raise UserError("no such file", path=capture)
    with source.open(encoding="utf-8", errors="replace") as lines:
        calls, bad = read_captures(lines)
    calls = matching(calls, where)
    ws = Workspace.open()
    snapshot = ws.snapshot(WORKTREE)
    goldens, unreadable = ws.read_goldens(snapshot)
    if set_name:
        targets, unmatched = _named_set(ws, goldens, unreadable, set_name, calls)
    else:
        targets, unmatched = _sets_by_prompt(goldens, unreadable, calls)
    _promote(ws, snapshot, targets, as_failure)
    _report_unpromoted(capture, bad, unmatched)
    if not calls and not bad:
        print(f"no captured call in {capture} matches" if where else f"{capture} holds no call")
    return 2 if bad or unmatched else 0


def _named_set(ws, goldens, unreadable, set_name, calls):
    from promptvc.evaluation.plan import select_sets
    from promptvc.names import as_name

    chosen, broken = select_sets(goldens, (as_name(set_name, ws.settings.prompts_dir),), unreadable)
    if broken:
        raise broken[0].error
    if len(chosen) != 1:
        ids = ", ".join(g.id for g in chosen)
        raise UserError(f"'{set_name}' matches {len(chosen)} golden sets ({ids}); name one")
    golden = chosen[0]
    others = [c for c in calls if c.prompt != golden.prompt]
    unmatched = {c.prompt: f"is not {golden.id}'s prompt ({golden.prompt})" for c in others}
    return [(golden, [c for c in calls if c.prompt == golden.prompt])], _counted(others, unmatched)


def _sets_by_prompt(
    goldens: list[GoldenSet], unreadable: list[BrokenSet], calls: list[CapturedCall]
):
    by_prompt: dict[str, list[CapturedCall]] = {}
    for call in calls:
        by_prompt.setdefault(call.prompt, []).append(call)
    targets, unmatched = [], []
    for prompt, prompt_calls in by_prompt.items():
        sets = [g for g in goldens if g.prompt == prompt]
        broken = [b for b in unreadable if prompt in b.names]
        if broken:
            raise broken[0].error
        if len(sets) == 1:
            targets.append((sets[0], prompt_calls))
        elif sets:
            ids = ", ".join(g.id for g in sets)
            unmatched.append(
                (
                    prompt,
                    len(prompt_calls),
                    f"has {len(sets)} golden sets ({ids}): name one with --set",
                )
            )
        else:
            unmatched.append(
                (prompt, len(prompt_calls), "has no golden set: create one, or name one with --set")
            )
    return targets, unmatched


def _counted(calls: list[CapturedCall], why: dict[str, str]) -> list[tuple[str, int, str]]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.prompt] = counts.get(call.prompt, 0) + 1
    return [(prompt, count, why[prompt]) for prompt, count in counts.items()]


def _promote(ws, snapshot, targets, as_failure: bool) -> None:
    """Every set's new text first, so a set that refuses stops the command before any file is
    written; then each file, in one rename, with its diff."""
    from promptvc.evals.promote import promote, write_promotion

    promotions = [
        (
            golden.id,
            promote(
                golden,
                snapshot.read_text(golden.path),
                snapshot.read_text(golden.cases_path) if golden.cases_path else None,
                calls,
                as_failure=as_failure,
            ),
        )
        for golden, calls in targets
    ]
    for set_id, promotion in promotions:
        if promotion.added:
            write_promotion(ws.root, promotion)
            _show_diff(promotion.path, promotion.before, promotion.after)
        already = f" ({promotion.already:,} already there)" if promotion.already else ""
        added = plural(len(promotion.added), "case")
        print(f"{set_id}: {added} added to {promotion.path}{already}")


def _show_diff(path: str, before: str, after: str) -> None:
    import difflib

    from rich.text import Text

    from promptvc.views.terminal import emit

    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), f"a/{path}", f"b/{path}", lineterm=""
    )
    emit([Text(line, style=_style(line)) for line in lines], pager=False)


def _style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    return {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")


def _report_unpromoted(capture: str, bad: list[BadLine], unmatched) -> None:
    for line in bad:
        print(f"{capture}:{line.line}: {line.why} (not promoted)", file=sys.stderr)
    for prompt, count, why in unmatched:
        print(f"{plural(count, 'call')} not promoted: prompt '{prompt}' {why}", file=sys.stderr)
