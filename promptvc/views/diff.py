"""How a DiffReport looks: the full view, --stat, --name-only and --json."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.text import Text

from promptvc.diff import DiffReport, PromptChange, RenderedChange, SchemaDiff
from promptvc.wording import plural, signed_money

if TYPE_CHECKING:
    from promptvc.calibration import KappaChange

LABEL_WIDTH = 11
INDENT = " " * (LABEL_WIDTH + 2)


def _value(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _diff_line(line: str) -> Text:
    style = (
        "green"
        if line.startswith("+")
        else "red"
        if line.startswith("-")
        else "cyan"
        if line.startswith("@@")
        else "dim"
    )
    return Text(INDENT + line, style=style)


def _label(name: str, first: Text | str) -> Text:
    text = Text(f"  {name:<{LABEL_WIDTH}}", style="bold")
    return text + (first if isinstance(first, Text) else Text(first))


def _money(amount: float | None, per: str = "") -> str:
    return "cost unknown" if amount is None else signed_money(amount) + per


def _tokens(n: int) -> str:
    """A token change: +1 token, −12 tokens."""
    sign = "+" if n >= 0 else "−"
    return f"{sign}{abs(n)} token{'' if abs(n) == 1 else 's'}"


def prompt_lines(
    change: PromptChange, old_label: str = "old side", new_label: str = "new side"
) -> list[Text]:
    head = Text(change.path, style="bold yellow")
    tier = f"route {change.route}" if change.route else f"tier {change.tier}" if change.tier else ""
    where = " · ".join(x for x in (tier, change.model or "") if x)
    status = {"added": "  (new prompt)", "removed": "  (deleted)"}.get(change.status, "")
    if change.status == "renamed":
        status = f"  (renamed from {change.old_name})"
    if change.untracked:
        status += "  (untracked)"
    head.append(status, style="bold")
    if where:
        head.append(f"   {where}", style="dim")
    lines = [head]
    if change.status == "reached":
        lines.append(_label("reached", ", ".join(change.reasons)))
    for i, c in enumerate(change.config):
        entry = Text(f"{c.key}  {_value(c.old)} → {_value(c.new)}")
        entry.append(f"   ({c.source})" if c.source else "", style="dim")
        lines.append(_label("config" if i == 0 else "", entry))
    lines += [_label("warning", Text(w, style="yellow")) for w in change.warnings]
    if change.schema:
        lines += schema_lines(change.schema)
    for i, e in enumerate(change.examples):
        mark = {"added": "+", "removed": "-", "changed": "~"}[e.kind]
        entry = Text(f'{mark} "{e.label}"', style={"+": "green", "-": "red", "~": "yellow"}[mark])
        if i == 0 and change.examples_file:
            before, after = change.examples_count
            entry.append(f"  ({change.examples_file}, {before} → {after})", style="dim")
        lines.append(_label("examples" if i == 0 else "", entry))
    if change.template:
        lines.append(_label("template", Text(change.template[0], style="cyan")))
        lines += [_diff_line(line) for line in change.template[1:]]
    if change.rendered:
        lines += rendered_lines(change.rendered, old_label, new_label)
    if change.goldens:
        for i, (_set_id, path, cases) in enumerate(change.goldens):
            lines.append(_label("goldens" if i == 0 else "", f"{path} ({plural(cases, 'case')})"))
    else:
        lines.append(_label("goldens", Text("none — no golden set names this prompt", style="dim")))
    return lines


def schema_lines(diff: SchemaDiff) -> list[Text]:
    """output_schema's change, field by field: + added, - removed, ~ retyped or re-required."""
    entries: list[Text] = []
    if diff.old_source != diff.new_source:
        entries.append(
            Text(f"output_schema  {_value(diff.old_source)} → {_value(diff.new_source)}")
        )
    for c in diff.changes:
        if c.kind == "added":
            entries.append(Text(f"+ {c.field}: {c.new}", style="green"))
        elif c.kind == "removed":
            entries.append(Text(f"- {c.field}: {c.old}", style="red"))
        elif c.kind == "type changed":
            entries.append(Text(f"~ {c.field}: {c.old} → {c.new}", style="yellow"))
        elif c.kind == "constraints changed":
            entries.append(
                Text("~ constraints or descriptions changed, no field's type", style="yellow")
            )
        else:
            entries.append(Text(f"~ {c.field}: {c.kind}", style="yellow"))
    if diff.unread:
        entries.append(
            Text(
                "a Pydantic model's fields are read only by commands that evaluate "
                "(loading it runs repository code)",
                style="dim",
            )
        )
    return [_label("schema" if i == 0 else "", entry) for i, entry in enumerate(entries)]


def rendered_lines(
    r: RenderedChange, old_label: str = "old side", new_label: str = "new side"
) -> list[Text]:
    return _rendered_body(r, old_label, new_label) + budget_lines(r) + cache_lines(r)


def cache_lines(r: RenderedChange) -> list[Text]:
    """What the change does to the prompt cache: a prefix to write again, or none at all."""
    lines = []
    if r.cache_invalidated:
        lines.append(
            Text(
                "the cached prefix changed: the first call of each case pays the cache write",
                style="yellow",
            )
        )
    if r.cache_too_short:
        lines.append(Text(r.cache_too_short, style="yellow"))
    return [_label("cache" if i == 0 else "", line) for i, line in enumerate(lines)]


def budget_lines(r: RenderedChange) -> list[Text]:
    """The cases the change pushes over the prompt's max_input_tokens (they would fail)."""
    if not r.over_budget:
        return []
    head = Text(
        f"pushes {plural(len(r.over_budget), 'case')} over max_input_tokens "
        "(they fail without a call): ",
        style="bold yellow",
    )
    head.append(r.over_budget[0], style="yellow")
    more = len(r.over_budget) - 1
    if more:
        head.append(f" (and {more} more)", style="dim")
    return [_label("budget", head)]


def _rendered_body(r: RenderedChange, old_label: str, new_label: str) -> list[Text]:
    if r.error or r.old_error:
        errors = [(old_label, r.old_error), (new_label, r.error)]
        if not r.old_error:  # the usual case: the change itself broke the prompt
            return [_label("rendered", Text(f"error: {r.error}", style="bold red"))]
        return [
            _label("rendered" if i == 0 else "", Text(f"error ({side}): {error}", style="bold red"))
            for i, (side, error) in enumerate((s, e) for s, e in errors if e)
        ]
    if not r.total:
        return [_label("rendered", Text("no case exists on both sides to compare", style="dim"))]
    if not r.changed:
        text = Text(
            "unchanged in the only case" if r.total == 1 else f"unchanged in all {r.total} cases",
            style="dim",
        )
        if r.cost_delta is None or abs(r.cost_delta) >= 5e-7:  # the model (or its price) changed
            text.append(f" (model: ≈{_money(r.cost_delta, '/call')})", style="dim")
        return [_label("rendered", text)]
    summary = Text(f"changed in {r.changed} of {plural(r.total, 'case')}; first: {r.case}  ")
    summary.append(f"(≈{_tokens(r.tokens_delta)}, {_money(r.cost_delta, '/call')})", style="dim")
    lines = [_label("rendered", summary)]
    for hunk in r.hunks:
        lines.append(Text(f"{INDENT}@@ {hunk.header} @@", style="cyan"))
        lines += [_diff_line(line) for line in hunk.lines]
    return lines


def report_lines(report: DiffReport) -> list[Text]:
    lines = [
        Text(f"promptvc diff · {report.old_label} → {report.new_label}", style="bold"),
        Text(""),
    ]
    for change in report.prompts:
        lines += prompt_lines(change, report.old_label, report.new_label)
        lines.append(Text(""))
    for path, names in report.shared.items():
        reach = f"reaches {plural(len(names), 'prompt')}"
        lines.append(Text(f"{path} → {reach}: {', '.join(names) or '(none)'}", style="magenta"))
    if report.judge_changed:
        lines.append(
            Text(
                "the judge changed → every set with an llm-rubric assertion is re-scored",
                style="magenta",
            )
        )
        lines += judge_kappa_lines(report)
    for s in report.sets:
        lines.append(_set_line(s))
    checks_only = [
        a for a in report.affected_sets if any(r.startswith(_CHECK_REASONS) for r in a.reasons)
    ]
    for a in checks_only:
        because = "; ".join(r for r in a.reasons if r.startswith(_CHECK_REASONS))
        lines.append(
            Text(
                f"{a.golden.path}  golden set {a.golden.id} affected: {because}", style="bold blue"
            )
        )
    if report.shared or report.sets or report.judge_changed or checks_only:
        lines.append(Text(""))
    lines.append(summary_line(report))
    return lines


def judge_kappa_lines(report: DiffReport) -> list[Text]:
    """What the judge change did to its agreement with people, per labelled set."""
    if not report.judge_kappa:
        return [
            Text(
                "judge: κ unknown, no labels to measure it against "
                "(`promptvc label SET`, then `promptvc judge calibrate`)",
                style="dim",
            )
        ]
    return [
        _kappa_line(change, report.old_label, report.new_label) for change in report.judge_kappa
    ]


def _kappa_line(change: KappaChange, old_label: str, new_label: str) -> Text:
    from promptvc.calibration import kappa_text

    before, after = change.before, change.after
    suffix = f" ({change.set_id})"
    if before is None or after is None:
        side = new_label if before is None else old_label
        return Text(f"judge: no labels at {side}{suffix}", style="dim")
    if before.known and after.known:
        labels = (
            f"{after.judged}"
            if before.judged == after.judged
            else f"{before.judged} → {after.judged}"
        )
        text = Text("judge: ", style="bold")
        text.append(f"κ {kappa_text(before.kappa)} → {kappa_text(after.kappa)}", style="bold")
        text.append(f" on {labels} labels{suffix}")
        return text
    unknown = [
        (label, command)
        for side, label, command in (
            (before, old_label, change.before_command),
            (after, new_label, change.after_command),
        )
        if not side.known
    ]
    where = " and ".join(label for label, _ in unknown)
    commands = " and ".join(f"`{command}`" for _, command in unknown)
    known = next((s for s in (before, after) if s.known), None)
    also = f"κ {kappa_text(known.kappa)} at the other side; " if known else ""
    return Text(
        f"judge: κ unknown at {where}{suffix} ({also}run {commands}, or diff --eval)",
        style="yellow",
    )


# Reasons no other line of the diff shows: the set's checks changed, not its prompt or file.
_CHECK_REASONS = ("python module", "cases file")


def _set_line(s) -> Text:
    text = Text(f"{s.path}", style="bold blue")
    if s.status == "renamed":
        text = Text(f"{s.old_path} → {s.path}", style="bold blue")
    text.append(
        f"  golden set {s.id} {s.status} (prompt {s.prompt}, cases {s.cases[0]} → {s.cases[1]})"
    )
    details = [
        f"+{len(s.added)} added" if s.added else "",
        f"-{len(s.removed)} removed" if s.removed else "",
        f"~{len(s.changed)} changed" if s.changed else "",
    ]
    details = [d for d in details if d]
    if details and s.status != "added":
        text.append("  " + ", ".join(details), style="dim")
    return text


def summary_line(report: DiffReport) -> Text:
    if report.empty:
        return Text("no prompt changes", style="dim")
    cases = report.affected_cases
    parts = [
        f"{plural(len(report.prompts), 'prompt')} changed",
        f"{plural(len(report.affected_sets), 'golden set')} affected ({plural(cases, 'case')})",
    ]
    cost = report.run_cost_delta
    if cost is not None:
        parts.append(f"est. {_money(cost)} per full run")
    elif report.unpriced:
        parts.append(f"est. cost unknown per full run (no price for {', '.join(report.unpriced)})")
    return Text(" · ".join(parts), style="bold")


def stat_lines(report: DiffReport) -> list[Text]:
    width = max((len(p.name) for p in report.prompts), default=0)
    lines = [Text(f" {p.name:<{width}} | " + ", ".join(_stat_bits(p))) for p in report.prompts]
    lines.append(summary_line(report))
    return lines


def stat_line(report: DiffReport) -> str:
    """--stat in one line (blame's and bisect's note beside a commit)."""
    parts = [f"{p.name}: {', '.join(_stat_bits(p))}" for p in report.prompts]
    parts += [
        f"{s.path}: {s.status}"
        + (f" ({plural(len(s.added), 'case')} added)" if s.added else "")
        + (f" ({plural(len(s.changed), 'case')} changed)" if s.changed else "")
        for s in report.sets
    ]
    if report.judge_changed:
        parts.append("the judge changed")
    return "; ".join(parts) or "no prompt changes (tiers or the environment)"


def _stat_bits(p: PromptChange) -> list[str]:
    added = sum(1 for line in p.template if line.startswith("+"))
    removed = sum(1 for line in p.template if line.startswith("-"))
    bits = [f"template +{added} -{removed}"]
    if p.config:
        bits.append(f"config {len(p.config)}")
    if p.examples:
        bits.append(f"examples {len(p.examples)}")
    if p.schema:
        bits.append(f"schema {len(p.schema.changes) or 1}")
    if p.rendered and not (p.rendered.error or p.rendered.old_error):
        bits.append(
            f"rendered {p.rendered.changed}/{plural(p.rendered.total, 'case')}, ≈{_tokens(p.rendered.tokens_delta)}"
        )
    return bits


def name_lines(report: DiffReport) -> list[str]:
    return [p.name for p in report.prompts]


def report_json(report: DiffReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, default=str)


def report_dict(report: DiffReport) -> dict[str, Any]:
    data = asdict(report)
    data["summary"] = {
        "prompts_changed": len(report.prompts),
        "sets_affected": len(report.affected_sets),
        "cases_affected": report.affected_cases,
        "est_run_cost_delta": report.run_cost_delta,
    }
    data["affected_sets"] = [
        {"id": a.golden.id, "cases": len(a.golden.cases), "reasons": list(a.reasons)}
        for a in report.affected_sets
    ]
    for prompt in data["prompts"]:
        prompt["goldens"] = [{"id": i, "path": p, "cases": n} for i, p, n in prompt["goldens"]]
        prompt["examples_count"] = {
            "old": prompt["examples_count"][0],
            "new": prompt["examples_count"][1],
        }
    for s in data["sets"]:
        s["cases"] = {"old": s["cases"][0], "new": s["cases"][1]}
    data["schema"] = "promptvc.diff/1"
    return data
