"""The comparison as one self-contained HTML page (`promptvc report`): per set the scores, the
paired delta with its interval, p and the verdict word, every case's status at both sides, and
each flip with its rendered prompt diff, the two outputs, the checks' and the judge's reasons.

Everything the page shows is in its HTML: the filters are a script that only hides parts, so the
page reads without JavaScript. Outputs are untrusted, so the template autoescapes everything and
the page's Content-Security-Policy runs only its own script (by hash) and loads nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from promptvc import __version__
from promptvc.compare import Flip, SetComparison, cost_change, is_unchanged
from promptvc.errors import UserError
from promptvc.evals.scoring import CaseResult, SetOutcome, Status
from promptvc.prompts.render import Renderer
from promptvc.rendered_diff import Hunk, rendered_hunks
from promptvc.significance import CaseEvidence, SetEvidence, interval_text, p_text, set_word
from promptvc.views.comparison import pairwise_line
from promptvc.wording import money, plural, signed_money

MISSING = "—"  # a case or score a side does not have
# Bidi embeddings, overrides and isolates reorder the text after them (an embedding before
# `pass → fail` shows `fail → pass`): on a page that reviews untrusted text, each is a visible mark.
_BIDI_CONTROLS = {c: f"⟨U+{c:04X}⟩" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
TEMPLATE = "report.html.jinja"
SCRIPT = "report.js"


@dataclass(frozen=True)
class Check:
    passed: bool
    label: str
    reason: str


@dataclass(frozen=True)
class Side:
    """One side of a flipped case: what the model said and why the checks judged it so."""

    status: str
    output: str | None
    checks: tuple[Check, ...]
    judge_reason: str | None
    cost: str


@dataclass(frozen=True)
class FlipView:
    case_id: str
    direction: str  # "regressed" or "fixed": the status filter's word
    arrow: str  # "pass → fail"
    before: Side
    after: Side
    hunks: tuple[Hunk, ...]
    diff_note: str  # why there is no prompt diff, when there is none
    resampled: str = ""  # what re-sampling the case found, where the gate re-sampled it


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    before: str
    after: str
    flip: str  # "regressed", "fixed" or ""
    note: str  # why the case has no verdict at the new side (its error), if it has none


@dataclass(frozen=True)
class SetView:
    set_id: str
    prompt: str
    provider: str
    before: str
    after: str
    delta: str
    interval: str
    p: str
    verdict: str  # the verdict word: the status filter's word for the set
    verdict_text: str  # with what resolves it, when inconclusive
    threshold: str
    cost: str
    cases: tuple[CaseRow, ...]
    flips: tuple[FlipView, ...]
    pairwise: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    old_label: str
    new_label: str
    sets: tuple[SetView, ...]
    not_evaluated: tuple[str, ...]  # sets the range affects with no stored result at either side
    notice: str | None  # the page's one line when there is nothing to compare
    cost: str
    source: str  # where the results came from: the store, or an evaluation now

    @property
    def statuses(self) -> list[str]:
        """The status filter's choices, in the order a reader looks for them."""
        order = ["regressed", "fixed", "failed", "error", "skipped", "passed"]
        seen = {s.verdict for s in self.sets} | {
            word for s in self.sets for c in s.cases for word in (c.flip, c.after)
        }
        return [w for w in order if w in seen] + sorted(seen - set(order) - {"", MISSING})


def build_page(
    comparisons: list[SetComparison],
    evidence: Mapping[str, SetEvidence],
    renderers: tuple[Renderer, Renderer],
    *,
    labels: tuple[str, str],
    planned: list[str],
    alpha: float,
    evaluated: bool,
) -> Page:
    """The page of a comparison; `planned`: the sets the range affects, so one with no stored
    result at either side is named, not left out silently; `evaluated`: evaluated now (--eval),
    not only read from the store."""
    compared = {c.set_id for c in comparisons}
    missing = tuple(s for s in planned if s not in compared)
    views = tuple(_set_view(c, evidence.get(c.set_id), renderers, alpha) for c in comparisons)
    return Page(
        labels[0],
        labels[1],
        views,
        missing,
        _notice(comparisons, planned, labels, evaluated),
        _cost_text(comparisons),
        "evaluated now (stored results reused)" if evaluated else "from stored results",
    )


def nothing_compared(comparisons: list[SetComparison]) -> bool:
    """No set has results at both sides: the page can show no change."""
    return not any(_scored(c.before) and _scored(c.after) for c in comparisons)


def _scored(outcome: SetOutcome | None) -> bool:
    return outcome is not None and outcome.score is not None


def _notice(
    comparisons: list[SetComparison], planned: list[str], labels: tuple[str, str], evaluated: bool
) -> str | None:
    old, new = labels
    if not planned:
        return f"No golden set is affected between {old} and {new}: there is nothing to compare."
    if not nothing_compared(comparisons):
        return None
    what = f"{plural(len(planned), 'affected set')} without scores at both {old} and {new}"
    why = (
        "the cases' notes say why"
        if evaluated
        else "run `promptvc report --eval` (or `promptvc diff --eval`) to evaluate them"
    )
    return f"Nothing in this range is evaluated at both sides: {what}; {why}."


def render_html(page: Page) -> str:
    """The page as one HTML document: its style and script inline, nothing loaded from anywhere."""
    from jinja2 import Environment, StrictUndefined

    env = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    folder = resources.files("promptvc.views")
    template = env.from_string(folder.joinpath(TEMPLATE).read_text(encoding="utf-8"))
    script = folder.joinpath(SCRIPT).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    document = template.render(page=page, script=script, script_hash=digest, version=__version__)
    return document.translate(_BIDI_CONTROLS)


# -- one set ----------------------------------------------------------------------------


def _set_view(
    c: SetComparison, found: SetEvidence | None, renderers: tuple[Renderer, Renderer], alpha: float
) -> SetView:
    outcome = c.after or c.before
    assert outcome is not None  # compare() never pairs two missing sides
    stats = found.first if found else None
    resampled = {e.case_id: e for e in found.cases} if found else {}
    verdict = set_word(found, alpha) if found and stats else None
    word = verdict.word if verdict else _missing_word(c)
    return SetView(
        c.set_id,
        outcome.golden.prompt,
        outcome.plan.identity.label,
        _score(c.before),
        _score(c.after),
        _delta(stats.delta if stats else c.delta),
        interval_text(stats).removeprefix("95% CI ") if stats else "",
        p_text(stats.p) if stats else "",
        word,
        verdict.text() if verdict else word,
        f"{outcome.golden.threshold:.2f}",
        _set_cost(c),
        _case_rows(c),
        tuple(
            _flip_view(c, f, renderers, resampled.get(f.case_id))
            for f in sorted(c.flips, key=lambda f: not f.regression)
        ),
        tuple(pairwise_line(o).plain.strip() for o in c.pairwise),
    )


def _missing_word(c: SetComparison) -> str:
    """The word of a set without paired figures: a side is missing or none of its cases scored."""
    if not _scored(c.after):
        return "not evaluated"
    if c.before is None:
        return "new"  # or not evaluated at the old side: either way there is no baseline
    return "not evaluated" if not _scored(c.before) else "unchanged"


def _score(outcome: SetOutcome | None) -> str:
    if outcome is None or outcome.score is None:
        return MISSING
    return f"{outcome.score:.2f}"


def _delta(delta: float | None) -> str:
    if delta is None:
        return ""
    if is_unchanged(delta):
        return "±0.00"
    return f"{'−' if delta < 0 else '+'}{abs(delta):.2f}"


def _set_cost(c: SetComparison) -> str:
    before, after, cases = cost_change([c])
    if not cases or before == after == 0:
        return ""
    if before is None or after is None:
        return "unknown (a model without a price)"
    return f"{money(before)} → {money(after)} ({signed_money(after - before)}) per run"


def _cost_text(comparisons: list[SetComparison]) -> str:
    before, after, cases = cost_change(comparisons)
    if not cases or before == after == 0:
        return ""
    where = f"over the {plural(cases, 'case')} evaluated at both sides"
    if before is None or after is None:
        return f"cost per run: unknown (a model without a price) {where}"
    return (
        f"cost per run: {money(before)} → {money(after)} ({signed_money(after - before)}) {where}"
    )


def _case_rows(c: SetComparison) -> tuple[CaseRow, ...]:
    flips = {f.case_id: f for f in c.flips}
    ids = list(
        dict.fromkeys(r.case_id for side in (c.after, c.before) if side for r in side.results)
    )
    return tuple(
        CaseRow(
            case_id,
            _case_status(c.before, case_id),
            _case_status(c.after, case_id),
            _flip_word(flips[case_id]) if case_id in flips else "",
            _case_note(c.after, case_id),
        )
        for case_id in ids
    )


def _case_status(outcome: SetOutcome | None, case_id: str) -> str:
    """passed or failed by the set's pass rule over its samples; else how its first sample ended."""
    if outcome is None:
        return MISSING
    summary = outcome.cases.get(case_id)
    if summary is not None:
        return str(Status.PASSED if summary.passed else Status.FAILED)
    result = next((r for r in outcome.results if r.case_id == case_id), None)
    return str(result.status) if result else MISSING


def _case_note(outcome: SetOutcome | None, case_id: str) -> str:
    if outcome is None or case_id in outcome.cases:
        return ""
    result = next((r for r in outcome.results if r.case_id == case_id), None)
    return (result.error or "") if result else ""


def _flip_word(flip: Flip) -> str:
    return "regressed" if flip.regression else "fixed"


# -- one flip ---------------------------------------------------------------------------


def _flip_view(
    c: SetComparison,
    flip: Flip,
    renderers: tuple[Renderer, Renderer],
    resampled: CaseEvidence | None,
) -> FlipView:
    hunks, note = _prompt_diff(c, flip.case_id, renderers)
    return FlipView(
        flip.case_id,
        _flip_word(flip),
        flip.direction.value if flip.direction else "",
        _side(flip.before),
        _side(flip.after),
        hunks,
        note,
        _resampled_text(resampled),
    )


def _resampled_text(found: CaseEvidence | None) -> str:
    """`pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)`, as check and diff --eval say it."""
    if found is None:
        return ""
    how = "re-sampled" if found.stage == "second" else "across its samples"
    verdict = "reproduced" if found.confirmed else "did not reproduce: flaky"
    return f"{found.counts()} ({how}, {p_text(found.p)}: {verdict})"


def _side(result: CaseResult) -> Side:
    # An llm-rubric verdict's reason already carries the judge's score and reason.
    judged = any(g.label.startswith(("llm-rubric", "not-llm-rubric")) for g in result.grades)
    return Side(
        str(result.status),
        result.output,
        tuple(Check(g.passed, g.label, g.reason) for g in result.grades),
        None if judged else result.judge_reason,
        "unknown" if result.cost is None else money(result.cost),
    )


def _prompt_diff(
    c: SetComparison, case_id: str, renderers: tuple[Renderer, Renderer]
) -> tuple[tuple[Hunk, ...], str]:
    """The case's rendered messages at both sides, diffed; or why there is no diff."""
    assert c.before is not None and c.after is not None  # a flip has both sides
    try:
        before, after = (
            renderer.render(outcome.golden.prompt, _case_vars(outcome, case_id))
            for renderer, outcome in zip(renderers, (c.before, c.after), strict=True)
        )
    except UserError as exc:
        return (), f"the prompt does not render: {exc}"
    hunks = tuple(rendered_hunks(before, after))
    if not hunks:
        return (
            (),
            "The rendered prompt is the same at both sides: the model, its config or the checks changed.",
        )
    return hunks, ""


def _case_vars(outcome: SetOutcome, case_id: str) -> dict:
    found = next((case.vars for case in outcome.golden.cases if case.id == case_id), None)
    if found is None:  # a flip pairs cases the two golden files both have
        raise UserError(f"case {case_id} is not in {outcome.golden.path}")
    return found
