"""How an evaluation looks: a table per set, the failed cases with their output and why,
and the --json and --junit forms."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from rich.table import Table
from rich.text import Text

from promptvc.evals.scoring import FAILED, PASSED, SetOutcome
from promptvc.views.terminal import printable

MAX_OUTPUT_LINES = 12


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"


def status_text(outcome: SetOutcome) -> Text:
    style = {"passed": "green", "failed": "bold red"}.get(outcome.status, "dim")
    return Text({"passed": "✓ passed", "failed": "✗ failed"}.get(outcome.status, outcome.status), style=style)


def sets_table(outcomes: tuple[SetOutcome, ...], elapsed: float) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (("set", "left"), ("score", "right"), ("min", "right"), ("pass", "right"),
                            ("fail", "right"), ("err", "right"), ("skip", "right"), ("cost", "right"),
                            ("provider", "left"), ("", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for o in outcomes:
        score = score_text(o.score)
        if o.spread is not None:
            score += f" ±{o.spread:.2f}"
        if o.noisy and o.score is not None:
            score += "†"
        table.add_row(printable(o.golden.id), score, f"{o.golden.threshold:.2f}", str(o.passed), str(o.failed), str(o.errored),
                      str(o.skipped), f"${o.cost:.4f}", o.plan.identity.label, status_text(o))
    return table


def footnotes(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    if any(o.noisy and o.score is not None for o in outcomes):
        return [Text("† one sample at temperature > 0: the score may be sampling noise (--repeat N)", style="yellow")]
    return []


def failure_lines(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    lines: list[Text] = []
    for o in outcomes:
        unchecked: dict[tuple[str, str], list[str]] = {}
        for r in o.results:
            if r.status == FAILED:
                lines += _failed_case(o, r)
            elif r.status != PASSED:
                unchecked.setdefault((r.status, r.error or ""), []).append(r.case_id)
        for (status, why), cases in unchecked.items():
            shown = ", ".join(cases[:5]) + (f" and {len(cases) - 5} more" if len(cases) > 5 else "")
            lines.append(Text(f"{o.golden.id}: {len(cases)} {status}", style="bold yellow")
                         + Text(f" ({shown}): {why}", style="yellow"))
    return lines


def _failed_case(o: SetOutcome, r) -> list[Text]:
    head = Text(f"{o.golden.id}/{r.case_id}", style="bold")
    if r.sample:
        head.append(f" (sample {r.sample})")
    head.append(f"  FAIL  score {r.score:.2f}", style="bold red")
    lines = [head]
    lines += [Text(f"  ✗ {g.label}: {g.reason}", style="red") for g in r.failed_grades]
    if r.truncated:
        lines.append(Text("  ! the output was cut off by max_tokens", style="yellow"))
    lines += [Text("  │ " + line, style="dim") for line in _clip(r.output or "")]
    return lines


def _clip(output: str) -> list[str]:
    lines = output.splitlines() or [""]
    if len(lines) > MAX_OUTPUT_LINES:
        return lines[:MAX_OUTPUT_LINES] + [f"… {len(lines) - MAX_OUTPUT_LINES} more lines"]
    return lines


def outcome_json(outcomes: tuple[SetOutcome, ...], *, run_id: int, snapshot: str, calls: int, cost: float,
                 elapsed: float) -> str:
    return json.dumps({
        "schema": "promptvc.eval/1", "run_id": run_id, "snapshot": snapshot, "calls": calls,
        "cost": round(cost, 8), "elapsed_s": round(elapsed, 3),
        "sets": [{
            "id": o.golden.id, "path": o.golden.path, "prompt": o.golden.prompt, "set_key": o.plan.set_key,
            "provider": o.plan.identity.label, "threshold": o.golden.threshold, "score": o.score,
            "spread": o.spread, "status": o.status, "passed": o.passed, "failed": o.failed,
            "errored": o.errored, "skipped": o.skipped, "single_sample_at_temperature": o.noisy,
            "cases": [{
                "id": r.case_id, "sample": r.sample, "status": r.status, "score": r.score, "output": r.output,
                "model": r.model, "latency_ms": r.latency_ms, "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out, "cost": r.cost, "truncated": r.truncated, "error": r.error,
                "judge_reason": r.judge_reason, "cached": not r.fresh,
                "assertions": [g.__dict__ for g in r.grades],
            } for r in o.results],
        } for o in outcomes],
    }, indent=2, ensure_ascii=False)


def junit_xml(outcomes: tuple[SetOutcome, ...], elapsed: float) -> bytes:
    suites = ET.Element("testsuites", name="promptvc", time=f"{elapsed:.3f}")
    for o in outcomes:
        suite = ET.SubElement(suites, "testsuite", name=o.golden.id, tests=str(len(o.results)),
                              failures=str(o.failed), errors=str(o.errored), skipped=str(o.skipped))
        for r in o.results:
            name = r.case_id if not r.sample else f"{r.case_id}[{r.sample}]"
            case = ET.SubElement(suite, "testcase", classname=o.golden.id, name=name,
                                 time=f"{(r.latency_ms or 0) / 1000:.3f}")
            if r.status == FAILED:
                reasons = "; ".join(f"{g.label}: {g.reason}" for g in r.failed_grades)
                failure = ET.SubElement(case, "failure", message=reasons[:500])
                failure.text = r.output or ""
            elif r.status == "error":
                ET.SubElement(case, "error", message=r.error or "error")
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.error or "skipped")
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
