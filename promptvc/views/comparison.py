"""How a before/after comparison looks (diff --eval, check)."""

from __future__ import annotations

from rich.text import Text

from promptvc.compare import SetComparison, is_unchanged
from promptvc.evals.scoring import Status
from promptvc.views.eval import score_text

OUTPUT_WIDTH = 100


def delta_text(delta: float | None) -> Text:
    if delta is None:
        return Text("")
    if is_unchanged(delta):
        return Text("(±0.00)", style="dim")
    sign, style = ("+", "green") if delta > 0 else ("−", "red")
    return Text(f"({sign}{abs(delta):.2f})", style=style)


def _one_line(text: str | None, other: str | None = None) -> str:
    """The output on one line; when both outputs share a long beginning, from where they differ."""
    flat = " ".join((text or "").split())
    start = 0
    if other is not None:
        other_flat = " ".join(other.split())
        same = next((i for i, (a, b) in enumerate(zip(flat, other_flat, strict=False)) if a != b), min(len(flat), len(other_flat)))
        if same > OUTPUT_WIDTH // 2:
            start = flat.rfind(" ", 0, same - 20) + 1
    shown = ("…" if start else "") + flat[start:]
    return shown if len(shown) <= OUTPUT_WIDTH else shown[:OUTPUT_WIDTH - 1] + "…"


def comparison_lines(comparisons: list[SetComparison], width: int = 0) -> list[Text]:
    width = width or max((len(c.set_id) for c in comparisons), default=10)
    lines = []
    for c in comparisons:
        before = score_text(c.before.score) if c.before else "new"
        after = score_text(c.after.score) if c.after else "removed"
        line = Text(f"  {c.set_id:<{width}}  {before} → {after}  ")
        line.append_text(delta_text(c.delta))
        if c.after is not None:
            line.append(f"  threshold {c.after.golden.threshold:.2f}  ", style="dim")
            status = c.after.status
            line.append({Status.PASSED: "✓", Status.FAILED: "✗"}.get(status, status),
                        style={Status.PASSED: "green", Status.FAILED: "bold red"}.get(status, "dim"))
            line.append(f"  {c.after.plan.identity.label}", style="dim")
            if c.after.noisy:
                line.append("  (1 sample at T>0)", style="yellow")
        lines.append(line)
        for flip in c.flips:
            style = "red" if flip.regression else "green"
            arrow = flip.direction.value if flip.direction else ""
            head = Text(f"    {flip.case_id}  ")
            head.append(arrow, style=f"bold {style}")
            failed = flip.after.failed_grades if flip.regression else flip.before.failed_grades
            if failed:
                head.append(f"   {failed[0].label}", style="dim")
            lines.append(head)
            lines.append(Text(f"      before: {_one_line(flip.before.output, flip.after.output)}", style="dim"))
            lines.append(Text(f"      after:  {_one_line(flip.after.output, flip.before.output)}", style=style))
    return lines
