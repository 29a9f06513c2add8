"""LLM-as-judge: the judge is a prompt too (`prompts/judge.jinja`, else a built-in default),
run on the `judge` tier; its reply ends in a line `Score: N` (1-5) after a short reason."""

from __future__ import annotations

import re

from promptvc.errors import UserError
from promptvc.prompts.budget import RenderLimitExceeded, bounded_render
from promptvc.prompts.file import JUDGE_NAME, prompt_path
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
BUILTIN_JUDGE_VERSION = "builtin-judge/1"
BUILTIN_JUDGE_CONFIG = {"model": "claude-sonnet-4-6", "max_tokens": 256, "temperature": 0}
_SCORE = re.compile(r"^\W*score\W*[:=]?\W*([1-5])(?:\s*/\s*5)?\W*$", re.IGNORECASE)


def has_custom_judge(renderer: Renderer) -> bool:
    return prompt_path(JUDGE_NAME, renderer.prompts_dir) in renderer.snapshot


def judge_config(renderer: Renderer) -> EffectiveConfig:
    if has_custom_judge(renderer):
        return renderer.config(JUDGE_NAME)
    tiers = renderer.tiers
    if JUDGE_TIER in tiers:
        return effective_config(JUDGE_TIER, {}, tiers, renderer.prompts_dir + "/tiers.yaml")
    return EffectiveConfig(
        None, dict(BUILTIN_JUDGE_CONFIG), {k: "built-in judge" for k in BUILTIN_JUDGE_CONFIG}
    )


def judge_fingerprint(renderer: Renderer) -> dict:
    """What a judge verdict depends on; part of the key of every set that uses llm-rubric."""
    if has_custom_judge(renderer):
        path = prompt_path(JUDGE_NAME, renderer.prompts_dir)
        partials, _ = renderer.partials_of(JUDGE_NAME)
        files = {
            p: renderer.snapshot.files[p].sha
            for p in sorted({path, *partials})
            if p in renderer.snapshot
        }
        template: dict[str, str] | str = files
    else:
        template = BUILTIN_JUDGE_VERSION
    config = judge_config(renderer)
    return {"template": template, "config": config.params, "tier": config.tier}


def render_judge(renderer: Renderer, rubric: str, output: str, case_vars: dict) -> Rendered:
    variables = {**case_vars, "rubric": rubric, "output": output}
    if has_custom_judge(renderer):
        return renderer.render(JUDGE_NAME, variables)
    template = renderer.__dict__.get("_builtin_judge")
    if template is None:
        template = renderer.__dict__["_builtin_judge"] = renderer.env().from_string(
            mark_roles(BUILTIN_JUDGE)
        )
    try:
        with bounded_render(
            renderer.limits
        ):  # the model's output is in it: bounded like any template
            text = template.render(variables)
    except RenderLimitExceeded as exc:
        raise UserError(f"the built-in judge's prompt: {exc}") from None
    system, messages = split_messages(text)
    return Rendered(JUDGE_NAME, system, tuple(messages), judge_config(renderer))


def parse_verdict(reply: str) -> tuple[int, str] | None:
    """(score, reason) from a reply whose last `Score: N` line carries the verdict; None if there is none."""
    lines = reply.strip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        match = _SCORE.match(lines[index].strip())
        if match:
            reason = " ".join(" ".join(lines[:index]).split())
            return int(match[1]), reason[:500]
    return None
