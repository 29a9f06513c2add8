"""How an evaluation looks: a table per set, the failed cases with their output and why,
and the --json and --junit forms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from promptvc.evals.routes import Standing
from promptvc.evals.scoring import CacheFigures, CaseSummary, SetOutcome, Status
from promptvc.views.terminal import printable
from promptvc.wording import money, plural

if TYPE_CHECKING:  # types only: `log` formats scores without loading golden sets or XML
    from promptvc.evals.goldens import BrokenSet

MAX_OUTPUT_LINES = 12


def set_name(set_id: str, safety: bool) -> Text:
    """A set's name, a safety set's tagged: the gate holds those to stricter rules."""
    name = Text(printable(set_id))
    return name.append(f" {SAFETY_TAG}", style="bold magenta") if safety else name


SAFETY_TAG = "[safety]"


def score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"


def status_text(outcome: SetOutcome) -> Text:
    style = {Status.PASSED: "green", Status.FAILED: "bold red"}.get(outcome.status, "dim")
    mark = {Status.PASSED: "✓ ", Status.FAILED: "✗ "}.get(outcome.status, "")
    return Text(mark + outcome.status, style=style)


def repeated(outcomes: tuple[SetOutcome, ...]) -> bool:
    return any(o.plan.samples > 1 for o in outcomes)


def sets_table(
    outcomes: tuple[SetOutcome, ...], elapsed: float, unverified: Mapping[str, str] | None = None
) -> Table:
    """One row per set; with repeated samples, `cases` counts cases passed by the set's rule and
    `flaky` those whose samples disagree, while pass/fail/err/skip count samples. `unverified`:
    {set id: why} for scores from a judge people have not verified (marked `?`)."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    by_case: tuple[tuple[str, JustifyMethod], ...] = (
        (("cases", "right"), ("flaky", "right")) if repeated(outcomes) else ()
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("set", "left"),
        ("score", "right"),
        ("min", "right"),
        *by_case,
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
        cases = (f"{o.cases_passed}/{len(o.cases)}", str(len(o.flaky))) if by_case else ()
        table.add_row(
            set_name(o.golden.id, o.golden.safety),
            score,
            f"{o.golden.threshold:.2f}",
            *cases,
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
                "† one sample at temperature > 0: the score may be sampling noise "
                "(`repeat: N` in the golden set, or --repeat N)",
                style="yellow",
            )
        )
    marked = [o.golden.id for o in outcomes if unverified and o.golden.id in unverified]
    if marked and unverified:
        notes.append(Text(f"? judge unverified: {unverified[marked[0]]}", style="yellow"))
    return notes


def route_lines(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    """Per routed set: the route's score and model cost per case beside each tier's alone."""
    lines = []
    for o in outcomes:
        report = o.routing
        if report is None or not report.cases:
            continue
        escalated = f"{report.escalated} of {plural(report.cases, 'case')} escalated"
        parts = [f"route {_standing(report.routed)} ({escalated})"]
        for tier in report.alone:
            if tier.score is None:
                parts.append(
                    f"{tier.name} alone: {tier.missing} of {report.cases} not answered "
                    "(eval --each-tier asks them)"
                )
            else:
                parts.append(f"{tier.name} alone {_figures(tier)}")
        lines.append(Text(f"{o.golden.id}  " + " · ".join(parts)))
    return lines


def _standing(standing: Standing) -> str:
    return f"{standing.name}: {_figures(standing)}"


def _figures(standing: Standing) -> str:
    cost = "cost unknown" if standing.cost is None else f"{money(standing.cost)}/case"
    return f"{score_text(standing.score)} at {cost}"


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
    counted = plural(cases, "case")
    if repeated(outcomes):
        distinct = sum(len({r.case_id for r in o.results}) for o in outcomes)
        counted = f"{plural(distinct, 'case')} ({plural(cases, 'sample')})"
    return (
        f"\n{counted} · {plural(calls, 'call')} · {reused} reused · {plural(tokens, 'token')} · "
        f"{spent} · {elapsed:.2f}s"
    )


def cache_lines(outcomes: tuple[SetOutcome, ...]) -> list[str]:
    """Per set whose calls used the prompt cache: what it wrote, read and saved this run."""
    return [f"cache {o.golden.id}: {cache_text(o.cache)}" for o in outcomes if o.cache]


def cache_text(figures: CacheFigures) -> str:
    """`12,400 tokens read, 3,100 written, saved $0.031` (a negative saving: writes not yet paid back)."""
    parts = [f"{figures.read:,} tokens read"]
    if figures.written:
        parts.append(f"{figures.written:,} written")
    saved = (
        f"saved {money(figures.saved)}"
        if figures.saved >= 0
        else (f"cost {money(-figures.saved)} more (writes not yet read back)")
    )
    return ", ".join([*parts, saved])


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


def repeat_lines(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    """Per set with repeated samples: its flaky and failing cases, each with passes over samples."""
    lines: list[Text] = []
    for o in outcomes:
        if o.plan.samples < 2 or not o.cases:
            continue
        head = Text(f"{o.golden.id}", style="bold")
        head.append(
            f"  ×{o.plan.samples} ({o.golden.pass_rule.describe()}): "
            f"{o.cases_passed} of {plural(len(o.cases), 'case')} passed, {len(o.flaky)} flaky"
        )
        if o.judge_share is not None:
            head.append(f" · judge share of variance: {o.judge_share:.2f}")
        lines.append(head)
        shown = [c for c in o.cases.values() if c.flaky or not c.passed]
        width = max((len(c.case_id) for c in shown), default=0)
        lines += [_case_line(c, width) for c in shown]
        steady = len(o.cases) - len(shown)
        if steady:
            lines.append(Text(f"  {plural(steady, 'case')} passed every sample", style="dim"))
    return lines


def _case_line(c: CaseSummary, width: int) -> Text:
    low, high = c.interval
    line = Text(f"  {printable(c.case_id):<{width}}  {c.passes}/{c.n}  score {c.score:.2f}")
    line.append(f" ±{c.spread:.2f}  pass rate (95% CI) {low:.2f}..{high:.2f}", style="dim")
    if c.judge_share is not None:
        line.append(f"  judge share {c.judge_share:.2f}", style="dim")
    if not c.passed:
        line.append(f"  ✗ failed (needs {c.needed})", style="bold red")
    elif c.flaky:
        line.append("  flaky", style="yellow")
    return line


def failure_lines(outcomes: tuple[SetOutcome, ...]) -> list[Text]:
    lines: list[Text] = []
    for o in outcomes:
        unchecked: dict[tuple[str, str, bool], list[str]] = {}
        if o.plan.samples > 1:
            lines += [line for c in o.cases.values() if not c.passed for line in _failed_over(o, c)]
        for r in o.results:
            if r.status == Status.FAILED:
                if o.plan.samples == 1:
                    lines += _failed_case(o, r)
            elif r.status != Status.PASSED:
                # An error in the case's own checks is a failure (red); a model that could not be
                # reached, or a missing recording, only leaves the case unchecked (yellow).
                kind: str = (
                    "not checked (model unreachable)" if r.fault == "unreachable" else r.status
                )
                unchecked.setdefault((kind, r.error or "", r.broken), []).append(r.case_id)
        for (kind, why, broken), cases in unchecked.items():
            names = list(dict.fromkeys(cases))  # a case's samples are one name
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            style = "red" if broken else "yellow"
            lines.append(
                Text(f"{o.golden.id}: {len(cases)} {kind}", style=f"bold {style}")
                + Text(f" ({shown}): {why}", style=style)
            )
    return lines


def _failed_case(o: SetOutcome, r) -> list[Text]:
    head = Text(f"{o.golden.id}/{r.case_id}", style="bold")
    head.append(f"  FAIL  score {r.score:.2f}", style="bold red")
    return [head, *_why_failed(r)]


def _why_failed(r) -> list[Text]:
    """The assertions a result failed, and its output."""
    lines = [Text(f"  ✗ {g.label}: {g.reason}", style="red") for g in r.failed_grades]
    if r.truncated:
        lines.append(Text("  ! the output was cut off by max_tokens", style="yellow"))
    lines += [Text("  │ " + line, style="dim") for line in _clip(r.output or "")]
    return lines


def _failed_over(o: SetOutcome, c: CaseSummary) -> list[Text]:
    """A case that failed by the set's rule over its samples: why, on its first failed sample."""
    first = next(r for r in c.samples if r.status == Status.FAILED)
    head = Text(f"{o.golden.id}/{c.case_id}", style="bold")
    head.append(
        f"  FAIL  pass {c.passes}/{c.n} (needs {c.needed})  score {c.score:.2f}", "bold red"
    )
    return [head, Text(f"  sample {first.sample}:", style="dim"), *_why_failed(first)]


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
                    "kind": o.golden.kind,
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
                    "repeat": o.plan.samples,
                    "pass_rule": o.golden.pass_rule.describe(),
                    "judge_repeat": o.golden.judge_repeat,
                    "cases_passed": o.cases_passed,
                    "flaky_cases": [c.case_id for c in o.flaky],
                    "judge_share": o.judge_share,
                    "cache": cache_json(o.cache),
                    "case_summaries": [_case_json(c) for c in o.cases.values()],
                    "route": o.routing.as_dict() if o.routing else None,
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
                            "cache_write_tokens": r.cache_written,
                            "cache_read_tokens": r.cache_read,
                            "truncated": r.truncated,
                            "error": r.error,
                            "fault": r.fault,
                            "judge_reason": r.judge_reason,
                            "tier": r.tier,
                            "tiers": [t.as_dict() for t in r.tiers],
                            "cached": not r.fresh,
                            "assertions": [g.as_dict() for g in r.grades],
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


def cache_json(figures: CacheFigures) -> dict:
    return {
        "write_tokens": figures.written,
        "read_tokens": figures.read,
        "saved": round(figures.saved, 8),
    }


def _case_json(c: CaseSummary) -> dict:
    low, high = c.interval
    return {
        "id": c.case_id,
        "cluster": c.cluster,
        "samples": c.n,
        "passes": c.passes,
        "needed": c.needed,
        "passed": c.passed,
        "flaky": c.flaky,
        "score": c.score,
        "spread": c.spread,
        "pass_rate": c.passes / c.n,
        "interval": [low, high],
        "judge_share": c.judge_share,
    }


def junit_xml(outcomes: tuple[SetOutcome, ...], elapsed: float) -> bytes:
    """One testsuite per set and one testcase per case: with repeated samples the case's verdict
    by the set's rule, so a flaky sample is not a CI failure when the case passes."""
    from xml.etree import ElementTree as ET

    suites = ET.Element("testsuites", name="promptvc", time=f"{elapsed:.3f}")
    for o in outcomes:
        verdicts = _junit_samples(o) if o.plan.samples == 1 else _junit_cases(o)
        kinds = [kind for _name, kind, _message, _text, _seconds in verdicts]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=o.golden.id,
            tests=str(len(verdicts)),
            failures=str(kinds.count("failure")),
            errors=str(kinds.count("error")),
            skipped=str(kinds.count("skipped")),
        )
        for name, kind, message, text, seconds in verdicts:
            case = ET.SubElement(
                suite, "testcase", classname=o.golden.id, name=name, time=f"{seconds:.3f}"
            )
            if kind:
                ET.SubElement(case, kind, message=message[:500]).text = text
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


# (test name, "failure" | "error" | "skipped" | "" for a pass, message, text, seconds)
JunitCase = tuple[str, str, str, str | None, float]


def _junit_samples(o: SetOutcome) -> list[JunitCase]:
    return [
        _junit_result(r.case_id if not r.sample else f"{r.case_id}[{r.sample}]", r)
        for r in o.results
    ]


def _junit_result(name: str, r) -> JunitCase:
    seconds = (r.latency_ms or 0) / 1000
    if r.status == Status.FAILED:
        reasons = "; ".join(f"{g.label}: {g.reason}" for g in r.failed_grades)
        return name, "failure", reasons, r.output or "", seconds
    if r.status in (Status.ERROR, Status.SKIPPED):
        kind = "error" if r.status == Status.ERROR else "skipped"
        return name, kind, r.error or kind, None, seconds
    return name, "", "", None, seconds


def _junit_cases(o: SetOutcome) -> list[JunitCase]:
    by_case: dict[str, list] = {}
    for r in o.results:
        by_case.setdefault(r.case_id, []).append(r)
    verdicts = []
    for case_id, results in by_case.items():
        seconds = sum((r.latency_ms or 0) for r in results) / 1000
        summary = o.cases.get(case_id)
        errored = next((r for r in results if r.status == Status.ERROR), None)
        if errored is not None or summary is None:
            verdicts.append(_junit_result(case_id, errored or results[0])[:4] + (seconds,))
        elif not summary.passed:
            first = _junit_result(
                case_id, next(r for r in summary.samples if r.status == Status.FAILED)
            )
            message = f"pass {summary.passes}/{summary.n} (needs {summary.needed}): {first[2]}"
            verdicts.append((case_id, "failure", message, first[3], seconds))
        else:
            verdicts.append((case_id, "", "", None, seconds))
    return verdicts
