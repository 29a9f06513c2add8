"""How a before/after comparison looks (diff --eval, check)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text

from promptvc.compare import Flip, SetComparison, cost_change, is_unchanged
from promptvc.evals.assertions import Grade
from promptvc.evals.scoring import CaseResult, SetOutcome, Status
from promptvc.significance import (
    CaseEvidence,
    PairedStats,
    SetEvidence,
    interval_text,
    p_text,
    set_word,
)
from promptvc.views.eval import SAFETY_TAG, score_text, set_name
from promptvc.wording import money, plural, signed_money

if TYPE_CHECKING:  # a type only, as in promptvc.compare
    from promptvc.evals.pairwise import PairwiseOutcome

OUTPUT_WIDTH = 100
MAX_ERRORS_SHOWN = 5


def delta_text(delta: float | None) -> Text:
    return Text(*delta_piece(delta))


def delta_piece(delta: float | None) -> tuple[str, str]:
    """`(+0.25)` and its style, as a Piece for terminal.emit_pieces."""
    if delta is None:
        return "", ""
    if is_unchanged(delta):
        return "(±0.00)", "dim"
    sign, style = ("+", "green") if delta > 0 else ("−", "red")
    return f"({sign}{abs(delta):.2f})", style


def _one_line(text: str | None, other: str | None = None) -> str:
    """The output on one line; when both outputs share a long beginning, from where they differ."""
    flat = " ".join((text or "").split())
    start = 0
    if other is not None:
        other_flat = " ".join(other.split())
        same = next(
            (i for i, (a, b) in enumerate(zip(flat, other_flat, strict=False)) if a != b),
            min(len(flat), len(other_flat)),
        )
        if same > OUTPUT_WIDTH // 2:
            start = flat.rfind(" ", 0, same - 20) + 1
    shown = ("…" if start else "") + flat[start:]
    return shown if len(shown) <= OUTPUT_WIDTH else shown[: OUTPUT_WIDTH - 1] + "…"


def comparison_lines(
    comparisons: list[SetComparison],
    width: int = 0,
    evidence: Mapping[str, SetEvidence] | None = None,
    alpha: float = 0.05,
) -> list[Text]:
    """Per set its scores, the paired delta with its interval, the flips, p and the verdict
    word; then each flipped case (with its re-sampled counts, when the gate re-sampled it)."""
    width = width or max((len(_name(c)) for c in comparisons), default=10)
    evidence = evidence or {}
    lines = []
    for c in comparisons:
        found = evidence.get(c.set_id)
        lines.append(_set_line(c, width, found, alpha))
        if found is not None and found.second is not None:
            lines.append(_second_stage_line(found.second))
        resampled = {e.case_id: e for e in found.cases} if found else {}
        for flip in c.flips:
            lines += _flip_lines(flip, resampled.get(flip.case_id), c.safety)
        if (
            c.after is not None and c.before is None
        ):  # a new set (or no baseline): why its cases fail
            lines += [
                line
                for r in c.after.results
                if r.status == Status.FAILED
                for line in _failed_case_lines(r)
            ]
        if c.after is not None:
            lines += _error_lines(c.after)
        lines += [pairwise_line(o) for o in c.pairwise]
    return lines


def stats_text(s: PairedStats) -> str:
    """`−0.15 (95% CI −0.27..−0.04)  4 flips ↓ 1 ↑  p=0.02`: the paired figures of one set."""
    delta = "±0.00" if is_unchanged(s.delta) else f"{'−' if s.delta < 0 else '+'}{abs(s.delta):.2f}"
    flips = f"  {_flips_text(s.down, s.up)}" if s.down or s.up else ""
    return f"{delta} ({interval_text(s)}){flips}  {p_text(s.p)}"


def evidence_text(evidence: SetEvidence, alpha: float) -> Text:
    """The figures and the verdict word of a set, as log and the TUI show them."""
    assert evidence.first is not None
    text = Text(stats_text(evidence.first), style=_delta_style(evidence.first.delta))
    word = set_word(evidence, alpha)
    text.append(f"  {word.text()}", style=_WORD_STYLES.get(word.word, ""))
    for outcome in evidence.pairwise:
        text.append("  ·  pairwise ")
        text.append_text(_pairwise_counts(outcome))
    return text


def _flips_text(down: int, up: int) -> str:
    """`4 flips ↓ 1 ↑`, `1 flip ↓`, `2 flips ↑`."""
    if down and up:
        return f"{plural(down, 'flip')} ↓ {up} ↑"
    return f"{plural(down or up, 'flip')} {'↓' if down else '↑'}"


def _set_line(c: SetComparison, width: int, evidence: SetEvidence | None, alpha: float) -> Text:
    before = score_text(c.before.score) if c.before else "new"
    after = score_text(c.after.score) if c.after else "removed"
    line = Text("  ") + set_name(c.set_id, c.safety)
    line.append(f"{'':<{width - len(_name(c))}}  {before} → {after}  ")
    if evidence is not None and evidence.first is not None:
        line.append_text(evidence_text(evidence, alpha))
    else:
        line.append_text(delta_text(c.delta))
    if c.after is not None:
        line.append(f"  threshold {c.after.golden.threshold:.2f}  ", style="dim")
        status = c.after.status
        line.append(
            {Status.PASSED: "✓", Status.FAILED: "✗"}.get(status, status),
            style={Status.PASSED: "green", Status.FAILED: "bold red"}.get(status, "dim"),
        )
        line.append(f"  {c.after.plan.identity.label}", style="dim")
    return line


_WORD_STYLES = {
    "regressed": "bold red",
    "improved": "green",
    "no regression": "green",
    "unchanged": "dim",
    "inconclusive": "yellow",
}


def _name(c: SetComparison) -> str:
    return c.set_id + (f" {SAFETY_TAG}" if c.safety else "")


def _delta_style(delta: float) -> str:
    return "dim" if is_unchanged(delta) else ("green" if delta > 0 else "red")


def _second_stage_line(s: PairedStats) -> Text:
    return Text(
        f"    re-sampled {plural(s.cases, 'case')} ×{s.samples} on both sides: {stats_text(s)}",
        style="dim",
    )


def _flip_lines(
    flip: Flip, resampled: CaseEvidence | None = None, safety: bool = False
) -> list[Text]:
    style = "red" if flip.regression else "green"
    arrow = flip.direction.value if flip.direction else ""
    head = Text(f"    {flip.case_id}  ")
    if resampled is None:
        head.append(arrow, style=f"bold {style}")
    else:  # the re-sampled counts say more than the first stage's one flip
        head.append(resampled.counts(), style="bold red" if resampled.confirmed else "yellow")
        verdict = "reproduced" if resampled.confirmed else "did not reproduce: flaky"
        if resampled.confirmed and safety:  # the stricter rule may be what confirmed it
            verdict += " (a safety set: any failure the base never had)"
        head.append(f" (re-sampled, {p_text(resampled.p)}: {verdict})", style="dim")
    failed = flip.after.failed_grades if flip.regression else flip.before.failed_grades
    if failed:
        head.append(f"   {_why(failed[0])}", style="dim")
    lines = [head]
    if flip.before.output == flip.after.output:  # only the checks changed: their verdicts say why
        lines.append(Text("      output unchanged; the checks' verdicts:", style="dim"))
        lines.append(Text(f"      before: {_verdicts(flip.before)}", style="dim"))
        lines.append(Text(f"      after:  {_verdicts(flip.after)}", style=style))
        return lines
    lines.append(
        Text(f"      before: {_one_line(flip.before.output, flip.after.output)}", style="dim")
    )
    lines.append(
        Text(f"      after:  {_one_line(flip.after.output, flip.before.output)}", style=style)
    )
    return lines


def _failed_case_lines(result: CaseResult) -> list[Text]:
    head = Text(f"    {result.case_id}  ")
    head.append("FAIL", style="bold red")
    if result.failed_grades:
        head.append(f"   {_why(result.failed_grades[0])}", style="dim")
    return [head, Text(f"      output: {_one_line(result.output)}", style="red")]


def _error_lines(outcome: SetOutcome) -> list[Text]:
    broken = outcome.broken
    lines = []
    for result in broken[:MAX_ERRORS_SHOWN]:
        head = Text(f"    {result.case_id}  ")
        head.append("ERROR", style="bold red")
        head.append(f"   {_one_line(result.error)}", style="red")
        lines.append(head)
    if len(broken) > MAX_ERRORS_SHOWN:
        lines.append(Text(f"    … {len(broken) - MAX_ERRORS_SHOWN} more errored", style="dim"))
    return lines


def _why(grade: Grade) -> str:
    """The assertion and its reason (for llm-rubric, the judge's score and reason, not the rubric)."""
    label = (
        "llm-rubric" if grade.label.startswith(("llm-rubric", "not-llm-rubric")) else grade.label
    )
    return _one_line(f"{label}: {grade.reason}")


def _verdicts(result: CaseResult) -> str:
    return _one_line(
        "; ".join(f"{'✓' if g.passed else '✗'} {g.label}: {g.reason}" for g in result.grades)
    )


def cost_lines(comparisons: list[SetComparison]) -> list[Text]:
    """The cost per run of the cases evaluated on both sides, before and after (a model change shows here)."""
    before, after, cases = cost_change(comparisons)
    if not cases or before == after == 0:
        return []
    where = f"over the {plural(cases, 'case')} evaluated on both sides"
    if before is None or after is None:
        return [Text(f"  cost per run: unknown (a model without a price) {where}", style="dim")]
    change = after - before
    ratio = f", ×{after / before:.1f}" if before and abs(change) >= 5e-7 else ""
    return [
        Text(
            f"  cost per run: {money(before)} → {money(after)} ({signed_money(change)}{ratio}) {where}",
            style="dim",
        )
    ]


def _pairwise_counts(o: PairwiseOutcome, *, interval: bool = False) -> Text:
    """`(more accurate): 3 wins · 14 ties · 9 losses  p=0.07`, with the win rate and its interval
    when asked for."""
    text = Text(f"({o.criterion}): ")
    if o.interval is None or o.win_rate is None:
        text.append("no case answered on both sides" if not o.unjudged else "no pair judged")
        return text
    style = "green" if o.wins > o.losses else "red" if o.losses > o.wins else ""
    counts = (
        f"{plural(o.wins, 'win')} · {plural(o.ties, 'tie')} · {plural(o.losses, 'loss', 'losses')}"
    )
    text.append(counts, style=style)
    if interval:
        low, high = o.interval
        text.append(f"  win rate {o.win_rate:.2f} (95% CI {low:.2f}..{high:.2f})")
    text.append(f"  {p_text(o.p)}")
    return text


def pairwise_line(o: PairwiseOutcome) -> Text:
    """`pairwise (more accurate): 3 wins · 14 ties · 9 losses  win rate 0.38 (95% CI 0.21..0.58)  p=0.07`"""
    line = Text("    pairwise ") + _pairwise_counts(o, interval=True)
    tied = [
        f"{n} {what}"
        for n, what in ((o.inconsistent, "inconsistent"), (o.unparsed, "unparsed"))
        if n
    ]
    if tied:
        line.append(f"  ({', '.join(tied)}: counted as ties)", style="dim")
    if o.unjudged:
        line.append(f"  {plural(o.unjudged, 'pair')} not judged", style="yellow")
    if o.note:
        line.append(f"  {_one_line(o.note)}", style="dim")
    return line
