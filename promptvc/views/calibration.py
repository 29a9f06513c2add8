"""How a judge calibration looks: per labelled set, the judge's agreement with people."""

from __future__ import annotations

import json
import math

from rich.text import Text

from promptvc.calibration import Agreement, kappa_text
from promptvc.evals.labels import SCALE
from promptvc.evaluation.calibrate import CalibrationRun, SetCalibration
from promptvc.views.terminal import printable
from promptvc.wording import money, plural

OUTPUT_WIDTH = 40
REASON_WIDTH = 60


def _figure(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def report_lines(run: CalibrationRun) -> list[Text]:
    lines = [Text(f"promptvc judge calibrate · {run.snapshot} · {run.judge}", style="bold")]
    for item in run.sets:
        lines.append(Text(""))
        lines += set_lines(item)
    lines.append(Text(""))
    for path in run.orphans:
        lines.append(
            Text(f"{path}: no golden set has this id; its labels are not used", style="yellow")
        )
    lines.append(Text(f"{plural(run.calls, 'judge call')} · {money(run.cost)}", style="dim"))
    return lines


def set_lines(item: SetCalibration) -> list[Text]:
    head = Text(f"{item.golden.id}", style="bold blue")
    head.append(f"  {plural(len(item.labels), 'label')} ({item.path})", style="dim")
    lines = [head]
    if item.agreement is not None:
        lines += agreement_lines(item.agreement)
    else:
        lines.append(Text("  the judge scored none of the labels", style="bold yellow"))
    lines += _caveat_lines(item)
    return lines


def agreement_lines(a: Agreement) -> list[Text]:
    lines = [
        Text(f"  judged          {plural(a.n, 'label')}"),
        Text(f"  agreement       exact {_figure(a.exact)}   within one {_figure(a.within_one)}"),
        Text(
            f"  κ (quadratic)   {kappa_text(a.kappa)}   Spearman ρ {_figure(a.spearman)}",
            style="bold",
        ),
        Text(
            f"  pass/fail       at min {', '.join(map(str, a.mins))}: agreement "
            f"{_figure(a.pass_agreement)}   κ {kappa_text(a.pass_kappa)}"
        ),
        Text(
            f"  leniency        {_figure(a.leniency, signed=True)}  {_leniency_words(a.leniency)}"
        ),
        Text(
            f"  verbosity bias  r {_figure(a.verbosity, signed=True)}  "
            "(the judge's error against the output's length)"
        ),
    ]
    lines += confusion_lines(a)
    if a.worst:
        lines.append(Text("  most apart", style="bold"))
        width = max(len(p.case) for p in a.worst)
        for p in a.worst:
            line = Text(f"    {printable(p.case):<{width}}  person {p.human} · judge {p.judge}  ")
            line.append(_clipped(p.output, OUTPUT_WIDTH))
            line.append(f"  {_clipped(p.reason, REASON_WIDTH)}", style="dim")
            lines.append(line)
    return lines


def confusion_lines(a: Agreement) -> list[Text]:
    """The 5×5 matrix: the person's score down, the judge's across."""
    lines = [Text("  confusion       judge →   " + "".join(f"{s:>4}" for s in SCALE), style="dim")]
    for score, row in zip(SCALE, a.confusion, strict=True):
        cells = "".join(f"{n:>4}" if n else "   ·" for n in row)
        lines.append(
            Text(f"                  {'person' if score == 1 else '':>6} {score}  {cells}")
        )
    return lines


def _clipped(text: str, width: int) -> str:
    flat = " ".join(printable(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _leniency_words(leniency: float) -> str:
    if not math.isfinite(leniency) or abs(leniency) < 0.05:
        return "(the judge scores as people do)"
    kinder = "higher" if leniency > 0 else "lower"
    return f"(the judge scores {kinder} than people)"


def _caveat_lines(item: SetCalibration) -> list[Text]:
    lines = []
    if item.unknown_outputs:
        lines.append(
            Text(
                f"  {plural(item.unknown_outputs, 'label')} of an output no stored run produced "
                "(allowed: a person's label of that text)",
                style="dim",
            )
        )
    if item.unparsed:
        where = ", ".join(f"line {label.line}" for label in item.unparsed[:5])
        lines.append(
            Text(
                f"  {plural(len(item.unparsed), 'judge reply', 'judge replies')} without a "
                f"'Score: N' line, not counted ({where})",
                style="yellow",
            )
        )
    if item.unjudged:
        why = item.unjudged[0][1]
        lines.append(
            Text(f"  {plural(len(item.unjudged), 'label')} not judged: {why}", style="yellow")
        )
    return lines


def report_json(run: CalibrationRun) -> str:
    return json.dumps(
        {
            "schema": "promptvc.judge-calibrate/1",
            "snapshot": run.snapshot,
            "judge": run.judge,
            "judge_key": run.judge_key,
            "calls": run.calls,
            "cost": run.cost,
            "sets": [_set_dict(item) for item in run.sets],
            "unused_labels_files": list(run.orphans),
        },
        indent=2,
        ensure_ascii=False,
    )


def _set_dict(item: SetCalibration) -> dict:
    return {
        "id": item.golden.id,
        "labels_file": item.path,
        "labels": len(item.labels),
        "unknown_outputs": item.unknown_outputs,
        "unparsed": [label.line for label in item.unparsed],
        "unjudged": [{"line": label.line, "why": why} for label, why in item.unjudged],
        "figures": item.agreement.figures() if item.agreement else None,
    }
