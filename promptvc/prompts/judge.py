"""LLM-as-judge: the judge is a prompt too (`prompts/judge.jinja`, else a built-in default),
run on the `judge` tier; its reply ends in a line `Score: N` (1-5) after a short reason.

The pairwise judge of a diff (`llm-compare`) is built, run and parsed the same way from
`prompts/judge-compare.jinja`, else a built-in default; its reply ends in `Winner: 1`, `Winner: 2`
or `Winner: tie`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from promptvc.errors import UserError
from promptvc.prompts.budget import RenderLimitExceeded, bounded_render
from promptvc.prompts.file import COMPARE_JUDGE_NAME, JUDGE_NAME, prompt_path
from promptvc.prompts.render import Rendered, Renderer, mark_roles, split_messages
from promptvc.prompts.tiers import JUDGE_TIER, EffectiveConfig, effective_config

BUILTIN_JUDGE = """\
system:
You grade the output of an AI assistant against a rubric. Be strict and concrete.
Reply with one or two sentences of reasoning, then a last line exactly `Score: N`,
where N is 1 (fails the rubric) to 5 (fully meets it).
user:
Rubric:
{{ rubric }}

Output to grade:
<output>
{{ output }}
</output>
"""
BUILTIN_COMPARE_JUDGE = """\
system:
You compare two outputs of an AI assistant, given the same input, on one criterion. Judge only
the criterion: not which output comes first, nor which is longer. When neither is better on it,
say so.
Reply with one or two sentences of reasoning, then a last line exactly `Winner: 1`, `Winner: 2`
or `Winner: tie`.
user:
Criterion: which output is {{ criterion }}?

Output 1:
<output-1>
{{ first }}
</output-1>

Output 2:
<output-2>
{{ second }}
</output-2>
"""
BUILTIN_JUDGE_VERSION = "builtin-judge/1"
BUILTIN_JUDGE_CONFIG = {"model": "claude-sonnet-4-6", "max_tokens": 256, "temperature": 0}
_SCORE = re.compile(r"^\W*score\W*[:=]?\W*([1-5])(?:\s*/\s*5)?\W*$", re.IGNORECASE)
_WINNER = re.compile(r"^winner:\s*(1|2|tie)$", re.IGNORECASE)

Winner = Literal["1", "2", "tie"]


@dataclass(frozen=True)
class JudgeKind:
    """A judge: the prompt that overrides it, and its built-in template."""

    name: str  # the prompt's name under prompts/
    builtin: str
    version: str  # the built-in template's, for keys
    title: str  # how errors name the built-in one


RUBRIC_JUDGE = JudgeKind(JUDGE_NAME, BUILTIN_JUDGE, BUILTIN_JUDGE_VERSION, "judge")
COMPARE_JUDGE = JudgeKind(
    COMPARE_JUDGE_NAME, BUILTIN_COMPARE_JUDGE, "builtin-compare-judge/1", "pairwise judge"
)


def has_custom_judge(renderer: Renderer, kind: JudgeKind = RUBRIC_JUDGE) -> bool:
    return prompt_path(kind.name, renderer.prompts_dir) in renderer.snapshot


def judge_config(renderer: Renderer, kind: JudgeKind = RUBRIC_JUDGE) -> EffectiveConfig:
    if has_custom_judge(renderer, kind):
        return renderer.config(kind.name)
    tiers = renderer.tiers
    if JUDGE_TIER in tiers:
        return effective_config(JUDGE_TIER, {}, tiers, renderer.prompts_dir + "/tiers.yaml")
    return EffectiveConfig(
        None, dict(BUILTIN_JUDGE_CONFIG), {k: "built-in judge" for k in BUILTIN_JUDGE_CONFIG}
    )


def judge_fingerprint(renderer: Renderer, kind: JudgeKind = RUBRIC_JUDGE) -> dict:
    """What a judge verdict depends on; part of the key of every set that uses llm-rubric."""
    if has_custom_judge(renderer, kind):
        path = prompt_path(kind.name, renderer.prompts_dir)
        partials, _ = renderer.partials_of(kind.name)
        files = {
            p: renderer.snapshot.files[p].sha
            for p in sorted({path, *partials})
            if p in renderer.snapshot
        }
        template: dict[str, str] | str = files
    else:
        template = kind.version
    config = judge_config(renderer, kind)
    return {"template": template, "config": config.params, "tier": config.tier}


def render_judge(renderer: Renderer, rubric: str, output: str, case_vars: dict) -> Rendered:
    return _render(renderer, RUBRIC_JUDGE, {**case_vars, "rubric": rubric, "output": output})


def render_compare_judge(
    renderer: Renderer, criterion: str, first: str, second: str, case_vars: dict
) -> Rendered:
    """The pairwise judge's prompt: `first` and `second` are the two outputs, in the order shown."""
    variables = {**case_vars, "criterion": criterion, "first": first, "second": second}
    return _render(renderer, COMPARE_JUDGE, variables)


def _render(renderer: Renderer, kind: JudgeKind, variables: dict) -> Rendered:
    if has_custom_judge(renderer, kind):
        return renderer.render(kind.name, variables)
    cached = f"_builtin_{kind.name}"
    template = renderer.__dict__.get(cached)
    if template is None:
        template = renderer.__dict__[cached] = renderer.env().from_string(mark_roles(kind.builtin))
    try:
        with bounded_render(
            renderer.limits
        ):  # the model's output is in it: bounded like any template
            text = template.render(variables)
    except RenderLimitExceeded as exc:
        raise UserError(f"the built-in {kind.title}'s prompt: {exc}") from None
    system, messages = split_messages(text)
    return Rendered(kind.name, system, tuple(messages), judge_config(renderer, kind))


def parse_verdict(reply: str) -> tuple[int, str] | None:
    """(score, reason) from a reply whose last `Score: N` line carries the verdict; None if there is none."""
    lines = reply.strip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        match = _SCORE.match(lines[index].strip())
        if match:
            reason = " ".join(" ".join(lines[:index]).split())
            return int(match[1]), reason[:500]
    return None


def parse_winner(reply: str) -> Winner | None:
    """Which output the pairwise judge prefers, from a reply whose last line is exactly
    `Winner: 1`, `Winner: 2` or `Winner: tie`; None for anything else."""
    lines = reply.strip().splitlines()
    match = _WINNER.match(lines[-1].strip()) if lines else None
    if match is None:
        return None
    return cast(Winner, match[1].lower())
