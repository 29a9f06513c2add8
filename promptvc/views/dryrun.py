"""`--dry-run`: per set, the requests a run would send, their input tokens and estimated cost."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from promptvc.evaluation.dryrun import DryRun, Escalations, SetEstimate
from promptvc.wording import money

ESTIMATED_MARK = "≈"


def tokens_text(estimate: SetEstimate) -> str:
    """Counted tokens as they are; any part estimated offline marked ≈, as everywhere."""
    mark = "" if estimate.tokens == "counted" or not estimate.input_tokens else ESTIMATED_MARK
    return f"{mark}{estimate.input_tokens:,}"


def print_dry_run(title: str, result: DryRun) -> None:
    from promptvc.views.terminal import console

    out = console()
    for line in dry_run_lines(title, result):
        out.print(line)


def dry_run_lines(title: str, result: DryRun) -> list:
    sided = any(s.side for s in result.sets)
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("golden set")
    if sided:
        table.add_column("side")
    for name in ("requests", "input tokens", "est. cost"):
        table.add_column(name, justify="right")
    for estimate in (*result.sets, result.total):
        row = [estimate.set_id] + ([estimate.side] if sided else [])
        row += [f"{estimate.requests:,}", tokens_text(estimate), money(estimate.cost)]
        table.add_row(*row, style="bold" if estimate.set_id == "total" else None)
    lines: list = [Text(f"{title} · dry run: nothing sent", style="bold"), table]
    if result.total.tokens != "counted" and result.total.input_tokens:
        why = f" ({result.counting})" if result.counting else ""
        lines.append(Text(f"{ESTIMATED_MARK} input tokens estimated offline{why}", style="dim"))
    lines += [
        Text(escalations_text(s.set_id, s.escalations), style="dim")
        for s in result.sets
        if s.escalations is not None
    ]
    return lines


def escalations_text(set_id: str, escalations: Escalations) -> str:
    """`support: only the first tier's calls of route fast→default; escalations are not counted
    (≈ 4 of 20 escalated last run)`."""
    seen = escalations.seen
    last = ""
    if seen is not None and seen.cases:
        when = "last run" if escalations.same_key else "in the set's last completed run"
        last = f" ({ESTIMATED_MARK} {seen.escalated} of {seen.cases} escalated {when})"
    return (
        f"{set_id}: only the first tier's calls of route {escalations.route}; "
        f"escalations are not counted{last}"
    )


def dry_run_json(result: DryRun, **header) -> str:
    def row(estimate: SetEstimate) -> dict:
        return {
            "id": estimate.set_id,
            **({"side": estimate.side} if estimate.side else {}),
            "requests": estimate.requests,
            "input_tokens": estimate.input_tokens,
            "counted_tokens": estimate.counted_tokens,
            "tokens": estimate.tokens,
            "cost": round(estimate.cost, 6),
            **(
                {"escalations": escalations_json(estimate.escalations)}
                if estimate.escalations
                else {}
            ),
        }

    return json.dumps(
        {
            "schema": "promptvc.dry-run/1",
            **header,
            "sets": [row(s) for s in result.sets],
            "total": row(result.total),
            "estimated_because": result.counting,
        },
        indent=2,
        ensure_ascii=False,
    )


def escalations_json(escalations: Escalations) -> dict:
    seen = escalations.seen
    return {
        "counted": False,
        "route": escalations.route,
        "last_run": None
        if seen is None
        else {"cases": seen.cases, "escalated": seen.escalated, "same_key": escalations.same_key},
    }
