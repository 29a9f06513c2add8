"""How a diff changes the rendered messages: each side rendered with its own golden cases
(paired by set and case id), the hunks per message, and the change in tokens and cost."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenSet
from promptvc.evaluation.prices import (
    config_price,
    estimate_tokens,
    min_cacheable_tokens,
    over_budget,
)
from promptvc.prompts.caching import SYSTEM, prefix_text, with_break_lines
from promptvc.prompts.file import prompt_path
from promptvc.prompts.render import Message, Rendered, Renderer
from promptvc.prompts.tiers import EffectiveConfig


def or_default(fn, default):
    """What fn gives, or the default when the user's files do not allow it (a broken side)."""
    try:
        return fn()
    except UserError:
        return default


def unified_lines(before: list[str], after: list[str], context: int = 3) -> list[str]:
    """A unified diff without its two header lines (a template's own `++`/`--` lines stay)."""
    return list(difflib.unified_diff(before, after, lineterm="", n=context))[2:]


@dataclass(frozen=True)
class Hunk:
    header: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class RenderedChange:
    changed: int
    total: int
    case: str | None
    hunks: tuple[Hunk, ...]
    tokens_delta: int
    cost_delta: float | None  # per call, for the first changed case (else the first case)
    run_cost_delta: float | None  # summed over every affected case; None when a side has no price
    error: str | None = None  # the new side could not render
    unpriced: tuple[str, ...] = ()  # models (old or new side) without a known price
    old_error: str | None = None  # the old side could not render
    # Cases the change pushes over the prompt's max_input_tokens: "set/case: why".
    over_budget: tuple[str, ...] = ()
    # Prompt caching: the change alters the text before a breakpoint (every case's first call
    # pays the cache write again), and why the new side's marked prefix is not cached at all.
    cache_invalidated: bool = False
    cache_too_short: str | None = None


def _render(renderer: Renderer, name: str, variables: dict | None) -> Rendered | None:
    if prompt_path(name, renderer.prompts_dir) not in renderer.snapshot:
        return None
    if variables is None:
        return renderer.render(name, {}, allow_missing=True)
    return renderer.render(name, variables)


def _side_cases(sets: list[GoldenSet]) -> dict[str, dict]:
    return {f"{g.id}/{c.id}": c.vars for g in sets for c in g.cases}


@dataclass(frozen=True)
class _PairedCase:
    label: str
    old_vars: dict | None
    new_vars: dict | None
    side: str = "both"  # "old" or "new" for a case that exists on that side only


def _paired_cases(old_sets: list[GoldenSet], new_sets: list[GoldenSet]) -> list[_PairedCase]:
    """The cases matched by set and case id: each side renders with its own revision's vars, so a
    commit that renames an input and its cases' vars diffs cleanly. A case on one side only renders
    the other side with the same vars."""
    before, after = _side_cases(old_sets), _side_cases(new_sets)
    if not before and not after:
        return [_PairedCase("(no golden case: placeholders)", None, None)]
    paired = [
        _PairedCase(label, before.get(label, vars_), vars_, "both" if label in before else "new")
        for label, vars_ in after.items()
    ]
    return paired + [
        _PairedCase(label, vars_, vars_, "old")
        for label, vars_ in before.items()
        if label not in after
    ]


def _render_side(
    renderer: Renderer, name: str, variables: dict | None
) -> tuple[Rendered | None, str | None]:
    try:
        return _render(renderer, name, variables), None
    except UserError as exc:
        return None, str(exc)


def rendered_change(
    old: Renderer,
    new: Renderer,
    name: str,
    old_sets: list[GoldenSet],
    new_sets: list[GoldenSet],
    all_cases: bool,
    old_name: str,
) -> RenderedChange:
    cases = _paired_cases(old_sets, new_sets)
    prices = _SidePrices(
        or_default(lambda: old.config(old_name), None), or_default(lambda: new.config(name), None)
    )
    budgets = _Budgets(old, new, old_name, name)
    prefixes = _CachedPrefixes()
    changed, first, hunks, first_tokens = 0, None, [], 0
    call_costs: list[float | None] = []
    first_cost: float | None = None
    compared = 0
    for case in cases:
        label = case.label
        before, old_error = _render_side(old, old_name, case.old_vars)
        after, new_error = _render_side(new, name, case.new_vars)
        if (case.side == "new" and old_error and not new_error) or (
            case.side == "old" and new_error and not old_error
        ):
            continue  # a case the other side never had, in vars that side does not take: nothing to compare
        compared += 1
        if old_error or new_error:  # a side that cannot render is an error, never an empty prompt
            return RenderedChange(
                changed, len(cases), label, (), 0, None, None, error=new_error, old_error=old_error
            )
        call_costs.append(prices.change(before, after))
        budgets.check(label, before, after)
        prefixes.check(before, after)
        if _plain(before) == _plain(after):
            continue
        changed += 1
        if first is None or all_cases:
            if first is None:
                first, first_tokens, first_cost = (
                    label,
                    _tokens(after) - _tokens(before),
                    call_costs[-1],
                )
            case_hunks = rendered_hunks(before, after)
            hunks += (
                [Hunk(f"{label}: {h.header}", h.lines) for h in case_hunks]
                if all_cases
                else case_hunks
            )
    run_cost = (
        None if any(c is None for c in call_costs) else sum(c for c in call_costs if c is not None)
    )
    cost = (
        first_cost if first is not None else (call_costs[0] if call_costs else 0.0)
    )  # a model change alone still costs
    return RenderedChange(
        changed,
        compared,
        first,
        tuple(hunks),
        first_tokens,
        cost,
        run_cost,
        unpriced=prices.unpriced,
        over_budget=tuple(budgets.pushed_over),
        cache_invalidated=prefixes.invalidated,
        cache_too_short=prefixes.too_short,
    )


class _Budgets:
    """Each side's max_input_tokens, and the cases the change pushes over the new side's."""

    def __init__(self, old: Renderer, new: Renderer, old_name: str, name: str):
        self.old = or_default(lambda: old.prompt(old_name).max_input_tokens, None)
        self.new = or_default(lambda: new.prompt(name).max_input_tokens, None)
        self.pushed_over: list[str] = []

    def check(self, label: str, before: Rendered | None, after: Rendered | None) -> None:
        if after is None or self.new is None:
            return
        why = over_budget(_tokens(after), self.new, counted=False)
        if why and not (before is not None and over_budget(_tokens(before), self.old, False)):
            self.pushed_over.append(f"{label}: {why}")


class _CachedPrefixes:
    """Whether the change alters a cached prefix, and whether the new side's prefixes are long
    enough for its model to cache them (by the offline estimate)."""

    def __init__(self) -> None:
        self.invalidated = False
        self.too_short: str | None = None

    def check(self, before: Rendered | None, after: Rendered | None) -> None:
        if after is None or not after.breakpoints:
            return
        new = _prefixes(after)
        if before is not None and before.breakpoints and not set(new) <= set(_prefixes(before)):
            self.invalidated = True
        model = after.config.model
        longest = max(estimate_tokens(text, model) for _model, text in new)
        minimum = min_cacheable_tokens(model)
        if longest < minimum and self.too_short is None:
            self.too_short = (
                f"the cached prefix is ≈{longest:,} tokens, under the {minimum:,} that "
                f"{model or 'the model'} caches at least: no caching happens"
            )


def _prefixes(rendered: Rendered) -> list[tuple[str | None, str]]:
    """The text before each breakpoint, with the model (each model has its own cache)."""
    turns = tuple((m.role, m.content) for m in rendered.messages)
    return [
        (rendered.config.model, prefix_text(rendered.system, turns, b))
        for b in rendered.breakpoints
    ]


class _SidePrices:
    """Each side of a diff priced at its own model: a tier moving to a dearer model costs more even
    when not one rendered token changes."""

    def __init__(self, old: EffectiveConfig | None, new: EffectiveConfig | None):
        self.old = config_price(old) if old else None
        self.new = config_price(new) if new else None
        self.unpriced = tuple(
            sorted(
                {
                    c.model or "(no model)"
                    for c, p in ((old, self.old), (new, self.new))
                    if c is not None and p is None
                }
            )
        )

    def change(self, before: Rendered | None, after: Rendered | None) -> float | None:
        """The input cost change of one call; None when a side that exists has no price."""
        costs = []
        for rendered, price in ((before, self.old), (after, self.new)):
            if rendered is None:
                costs.append(0.0)
            elif price is None:
                return None
            else:
                costs.append(_tokens(rendered) * price.input / 1_000_000)
        return costs[1] - costs[0]


def _plain(rendered: Rendered | None) -> str | None:
    return rendered.plain() if rendered else None


def _tokens(rendered: Rendered | None) -> int:
    """Estimated per the side's model: a tier switch to the newer tokenizer shows its tokens."""
    return estimate_tokens(rendered.text(), rendered.config.model) if rendered else 0


def rendered_hunks(before: Rendered | None, after: Rendered | None) -> list[Hunk]:
    """The rendered-message diff: the system text, then the messages aligned turn by turn (each
    with its cache breakpoints shown, so moving one is a visible change)."""
    hunks = []
    old_system = _shown(before, SYSTEM, before.system).splitlines() if before else []
    new_system = _shown(after, SYSTEM, after.system).splitlines() if after else []
    if old_system != new_system:
        hunks.append(Hunk("system", tuple(_changed_lines(old_system, new_system))))
    old_msgs = _shown_messages(before)
    new_msgs = _shown_messages(after)
    matcher = difflib.SequenceMatcher(a=old_msgs, b=new_msgs, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = max(a1 - a0, b1 - b0)
        for i in range(pairs):
            o = old_msgs[a0 + i] if a0 + i < a1 else None
            n = new_msgs[b0 + i] if b0 + i < b1 else None
            index = b0 + i if n else a0 + i
            message = n or o
            assert message is not None  # i < max(a1 - a0, b1 - b0): one side has a message here
            role = message.role
            note = "  (new turn)" if o is None else "  (removed turn)" if n is None else ""
            lines = _changed_lines(
                o.content.splitlines() if o else [], n.content.splitlines() if n else []
            )
            hunks.append(Hunk(f"messages[{index}] {role}{note}", tuple(lines)))
    return hunks


def _shown(rendered: Rendered, index: int, text: str) -> str:
    offsets = {b.offset: b.ttl for b in rendered.breakpoints if b.message == index}
    return with_break_lines(text, offsets) if offsets else text


def _shown_messages(rendered: Rendered | None) -> list[Message]:
    if rendered is None:
        return []
    return [
        Message(m.role, _shown(rendered, i, m.content)) for i, m in enumerate(rendered.messages)
    ]


def _changed_lines(before: list[str], after: list[str]) -> list[str]:
    return [line for line in unified_lines(before, after, context=1) if not line.startswith("@@")]


# -- golden sets -----------------------------------------------------------------------
