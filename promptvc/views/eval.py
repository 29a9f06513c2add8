"""How an evaluation looks: a table per set, the failed cases with their output and why,
and the --json and --junit forms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from xml.etree import ElementTree as ET

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from promptvc.evals.goldens import BrokenSet
from promptvc.evals.scoring import SetOutcome, Status
from promptvc.views.terminal import printable
from promptvc.wording import money, plural

MAX_OUTPUT_LINES = 12


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"


def status_text(outcome: SetOutcome) -> Text:
    style = {Status.PASSED: "green", Status.FAILED: "bold red"}.get(outcome.status, "dim")
    mark = {Status.PASSED: "✓ ", Status.FAILED: "✗ "}.get(outcome.status, "")
    return Text(mark + outcome.status, style=style)


def sets_table(
    outcomes: tuple[SetOutcome, ...], elapsed: float, unverified: Mapping[str, str] | None = None
) -> Table:
    """`unverified`: {set id: why} for scores from a judge people have not verified (marked `?`)."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("set", "left"),
        ("score", "right"),
        ("min", "right"),
        ("pass", "right"),
        ("fail", "right"),
        ("err", "right"),
        ("skip", "right"),
        ("cost", "right"),
        ("provider", "left"),
        ("", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=True)
    for o in outcomes:
        score = score_text(o.score)
        if o.spread is not None:
            score += f" ±{o.spread:.2f}"
        if o.noisy and o.score is not None:
            score += "†"
        if unverified and o.golden.id in unverified and o.score is not None:
            score += "?"
        table.add_row(
            printable(o.golden.id),
            score,
            f"{o.golden.threshold:.2f}",
            str(o.passed),
            str(o.failed),
            str(o.errored),
            str(o.skipped),
            money(o.cost),
            o.plan.identity.label,
            status_text(o),
        )
    return table


def footnotes(
    outcomes: tuple[SetOutcome, ...], unverified: Mapping[str, str] | None = None
) -> list[Text]:
    notes = []
    if any(o.noisy and o.score is not None for o in outcomes):
        notes.append(
            Text(
                "† one sample at temperature > 0: the score may be sampling noise (--repeat N)",
                style="yellow",
            )
        )
    marked = [o.golden.id for o in outcomes if unverified and o.golden.id in unverified]
    if marked and unverified:
        notes.append(Text(f"? judge unverified: {unverified[marked[0]]}", style="yellow"))
    return notes


def coverage_line(outcomes: tuple[SetOutcome, ...]) -> str | None:
    """What a run did not evaluate, in plain words; None when every case was checked."""
    return nothing_evaluated_text(outcomes) or unchecked_sets_text(outcomes)


def totals_line(
    outcomes: tuple[SetOutcome, ...],
    cases: int,
    calls: int,
    reused: int,
    tokens: int,
    elapsed: float,
) -> str:
    """The footer; its cost is the sum of the set rows (what this run paid), and what the responses
    it did not pay for would cost is said beside it, so replay never looks like it cost money."""
    spent = money(sum(o.cost for o in outcomes))
    replayed = sum(o.replayed_cost for o in outcomes)
    if replayed:
        spent += f" (reused/replayed: {money(replayed)} if sent)"
    return (
        f"\n{plural(cases, 'case')} · {plural(calls, 'call')} · {reused} reused · {plural(tokens, 'token')} · "
        f"{spent} · {elapsed:.2f}s"
    )


def nothing_evaluated_text(outcomes: tuple[SetOutcome, ...]) -> str | None:
    results = [r for o in outcomes for r in o.results]
    if results and not any(r.evaluated for r in results):
        errored, skipped = (
            sum(r.status == Status.ERROR for r in results),
            sum(r.status == Status.SKIPPED for r in results),
        )
        counts = [f"{n} {what}" for n, what in ((errored, "errored"), (skipped, "skipped")) if n]
        return f"nothing was evaluated: {plural(len(results), 'case')}, " + ", ".join(counts)
    return None


def unchecked_sets_text(outcomes: tuple[SetOutcome, ...]) -> str | None:
    """'2 of 5 golden sets not evaluated (first-set: why)' for sets with cases no model checked."""
    incomplete = [o for o in outcomes if o.unchecked]
    if not incomplete:
        return None
    fully = "fully " if any(o.score is not None for o in incomplete) else ""
    first = incomplete[0]
    why = next((r.error for r in first.unchecked if r.error), "")
    return f"{len(incomplete)} of {plural(len(outcomes), 'golden set')} not {fully}evaluated ({first.golden.id}: {why})"


def failure_lines(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    lines: list[Text] = []
    for o in outcomes:
        unchecked: dict[tuple[str, str, bool], list[str]] = {}
        for r in o.results:
            if r.status == Status.FAILED:
                lines += _failed_case(o, r)
            elif r.status != Status.PASSED:
                # An error in the case's own checks is a failure (red); a model that could not be
                # reached, or a missing recording, only leaves the case unchecked (yellow).
                kind: str = (
                    "not checked (model unreachable)" if r.fault == "unreachable" else r.status
                )
                unchecked.setdefault((kind, r.error or "", r.broken), []).append(r.case_id)
        for (kind, why, broken), cases in unchecked.items():
            shown = ", ".join(cases[:5]) + (f" and {len(cases) - 5} more" if len(cases) > 5 else "")
            style = "red" if broken else "yellow"
            lines.append(
                Text(f"{o.golden.id}: {len(cases)} {kind}", style=f"bold {style}")
                + Text(f" ({shown}): {why}", style=style)
            )
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
        return lines[:MAX_OUTPUT_LINES] + [
            f"… {plural(len(lines) - MAX_OUTPUT_LINES, 'more line')}"
        ]
    return lines


def errors_json(errors: Sequence[BrokenSet]) -> list[dict]:
    return [
        {"path": b.error.path or b.path, "line": b.error.line, "message": b.error.message}
        for b in errors
    ]


def empty_json(message: str, *, snapshot: str, errors: Sequence[BrokenSet] = ()) -> str:
    """The --json answer of a run with nothing to evaluate: the same shape, no sets, and why."""
    return json.dumps(
        {
            "schema": "promptvc.eval/1",
            "run_id": None,
            "snapshot": snapshot,
            "calls": 0,
            "cost": 0.0,
            "elapsed_s": 0.0,
            "message": message,
            "errors": errors_json(errors),
            "sets": [],
        },
        indent=2,
        ensure_ascii=False,
    )


def outcome_json(
    outcomes: tuple[SetOutcome, ...],
    *,
    run_id: int,
    snapshot: str,
    calls: int,
    cost: float,
    elapsed: float,
    errors: Sequence[BrokenSet] = (),
    unverified: Mapping[str, str] | None = None,
) -> str:
    return json.dumps(
        {
            "schema": "promptvc.eval/1",
            "run_id": run_id,
            "snapshot": snapshot,
            "calls": calls,
            "cost": round(cost, 8),
            "elapsed_s": round(elapsed, 3),
            "errors": errors_json(errors),
            "sets": [
                {
                    "id": o.golden.id,
                    "path": o.golden.path,
                    "prompt": o.golden.prompt,
                    "set_key": o.plan.set_key,
                    "provider": o.plan.identity.label,
                    "threshold": o.golden.threshold,
                    "score": o.score,
                    "spread": o.spread,
                    "status": o.status,
                    "passed": o.passed,
                    "failed": o.failed,
                    "errored": o.errored,
                    "skipped": o.skipped,
                    "single_sample_at_temperature": o.noisy,
                    "judge_unverified": (unverified or {}).get(o.golden.id),
                    "cases": [
                        {
                            "id": r.case_id,
                            "sample": r.sample,
                            "status": r.status,
                            "score": r.score,
                            "output": r.output,
                            "model": r.model,
                            "latency_ms": r.latency_ms,
                            "tokens_in": r.tokens_in,
                            "tokens_out": r.tokens_out,
                            "cost": r.cost,
                            "truncated": r.truncated,
                            "error": r.error,
                            "fault": r.fault,
                            "judge_reason": r.judge_reason,
                            "cached": not r.fresh,
                            "assertions": [g.__dict__ for g in r.grades],
                        }
                        for r in o.results
                    ],
                }
                for o in outcomes
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def junit_xml(outcomes: tuple[SetOutcome, ...], elapsed: float) -> bytes:
    suites = ET.Element("testsuites", name="promptvc", time=f"{elapsed:.3f}")
    for o in outcomes:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=o.golden.id,
            tests=str(len(o.results)),
            failures=str(o.failed),
            errors=str(o.errored),
            skipped=str(o.skipped),
        )
        for r in o.results:
            name = r.case_id if not r.sample else f"{r.case_id}[{r.sample}]"
            case = ET.SubElement(
                suite,
                "testcase",
                classname=o.golden.id,
                name=name,
                time=f"{(r.latency_ms or 0) / 1000:.3f}",
            )
            if r.status == Status.FAILED:
                reasons = "; ".join(f"{g.label}: {g.reason}" for g in r.failed_grades)
                failure = ET.SubElement(case, "failure", message=reasons[:500])
                failure.text = r.output or ""
            elif r.status == Status.ERROR:
                ET.SubElement(case, "error", message=r.error or "error")
            elif r.status == Status.SKIPPED:
                ET.SubElement(case, "skipped", message=r.error or "skipped")
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
