"""A prompt file: YAML front matter and a Jinja body."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptvc.errors import UserError, did_you_mean
from promptvc.git.snapshot import Snapshot
from promptvc.prompts.caching import CacheSpec, cache_spec
from promptvc.prompts.output_schema import spec_problem
from promptvc.prompts.route import Route, parse_route
from promptvc.prompts.tiers import API_PARAMS, effort_problem
from promptvc.yamlfile import key_line, parse_yaml

PROMPT_SUFFIX = ".jinja"
NOT_PROMPTS = ("partials/", "examples/")
JUDGE_NAME = "judge"
COMPARE_JUDGE_NAME = "judge-compare"  # the pairwise judge of llm-compare
JUDGE_NAMES = (JUDGE_NAME, COMPARE_JUDGE_NAME)  # prompts that judge, not prompts of their own
META_KEYS = {
    "description",
    "tier",
    "examples",
    "inputs",
    "output_schema",
    "max_input_tokens",
    "cache",
    "cache_ttl",
    "route",
    "escalate_on",
}


@dataclass(frozen=True)
class PromptFile:
    name: str
    path: str
    sha: str
    meta: dict
    body: str
    body_line: int  # the file line where the body starts (1-based)
    overrides: dict = field(default_factory=dict)
    route: Route | None = None  # the tiers it tries in turn, and what escalates a case

    @property
    def tier(self) -> str | None:
        """Its tier: a routed prompt's is the route's first (what renders, diffs and deploys)."""
        return self.route.tiers[0] if self.route else self.meta.get("tier")

    @property
    def max_input_tokens(self) -> int | None:
        """The prompt's token budget: every golden case's render must fit in it."""
        return self.meta.get("max_input_tokens")

    @property
    def examples_path(self) -> str | None:
        return self.meta.get("examples")

    @property
    def output_schema(self) -> dict | str | None:
        """As written: a JSON Schema, a .json path under prompts/, or `module:Class`."""
        return self.meta.get("output_schema")

    @property
    def cache(self) -> CacheSpec:
        """Front matter `cache:` and `cache_ttl:` (checked when the file was read)."""
        return cache_spec(self.meta, self.path, lambda key: None)

    @property
    def inputs(self) -> tuple[str, ...] | None:
        declared = self.meta.get("inputs")
        return tuple(declared) if declared is not None else None


def unknown_input(prompt: PromptFile, key: str) -> str | None:
    """Why a variable the prompt does not declare is refused (it would be ignored: a typo until
    shown otherwise), or None when it is declared or the prompt declares nothing."""
    declared = prompt.inputs
    if declared is None or key in declared:
        return None
    known = ", ".join(declared) or "none"
    return (
        f"prompt '{prompt.name}' has no input '{key}'{did_you_mean(key, declared)}; "
        f"its inputs: {known}"
    )


def prompt_name(path: str, prompts_dir: str) -> str | None:
    """`prompts/support/answer.jinja` -> `support/answer`; None for partials and examples."""
    prefix = prompts_dir.rstrip("/") + "/"
    if not path.startswith(prefix) or not path.endswith(PROMPT_SUFFIX):
        return None
    rel = path[len(prefix) : -len(PROMPT_SUFFIX)]
    if rel.startswith(NOT_PROMPTS):
        return None
    return rel


def prompt_path(name: str, prompts_dir: str) -> str:
    return f"{prompts_dir.rstrip('/')}/{name}{PROMPT_SUFFIX}"


def prompt_names(snapshot: Snapshot, prompts_dir: str) -> list[str]:
    names = (prompt_name(p, prompts_dir) for p in snapshot.under(prompts_dir, (PROMPT_SUFFIX,)))
    return sorted(n for n in names if n and n not in JUDGE_NAMES)


def load_prompt(snapshot: Snapshot, name: str, prompts_dir: str) -> PromptFile:
    if name.startswith(NOT_PROMPTS):
        raise UserError(
            f"'{name}' is under prompts/{name.split('/')[0]}/: a shared piece, not a prompt"
        )
    path = prompt_path(name, prompts_dir)
    if path not in snapshot:
        known = prompt_names(snapshot, prompts_dir)
        raise UserError(
            f"unknown prompt '{name}' (no {path} in {snapshot.label}){did_you_mean(name, known)}"
        )
    sha = snapshot.files[path].sha
    key = (sha, name)
    parsed = snapshot.caches.prompts.get(key)
    if parsed is None:
        parsed = snapshot.caches.prompts[key] = parse_prompt(
            snapshot.read_text(path), name, path, sha
        )
    return parsed


def split_front_matter(text: str, path: str) -> tuple[str | None, str, int]:
    """(front matter text or None, body, line where the body starts)."""
    if not (text.startswith("---\n") or text == "---"):
        return None, text, 1
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    raise UserError("front matter opened with '---' is never closed", path=path, line=1)


def parse_prompt(text: str, name: str, path: str, sha: str) -> PromptFile:
    front, body, body_line = split_front_matter(text, path)
    meta = parse_yaml(front, path, first_line=2) if front else {}
    meta = meta or {}
    if not isinstance(meta, dict):
        raise UserError("front matter must be a mapping", path=path, line=2)
    overrides = {}
    for key, value in meta.items():
        if key in API_PARAMS:
            overrides[key] = value
        elif key not in META_KEYS:
            raise UserError(
                f"unknown front-matter key '{key}'",
                path=path,
                line=key_line(front or "", str(key), 2),
            )
    _check_meta(meta, front or "", path)
    route = parse_route(meta, front or "", path)
    plain = {k: v for k, v in meta.items() if k in META_KEYS}
    return PromptFile(name, path, sha, plain, body, body_line, overrides, route)


def _check_meta(meta: dict, front: str, path: str) -> None:
    inputs = meta.get("inputs")
    if inputs is not None and not (
        isinstance(inputs, list) and all(isinstance(i, str) for i in inputs)
    ):
        raise UserError(
            "'inputs' must be a list of names", path=path, line=key_line(front, "inputs", 2)
        )
    if "output_schema" in meta:
        problem = spec_problem(meta["output_schema"])
        if problem:
            raise UserError(problem, path=path, line=key_line(front, "output_schema", 2))
    problem = effort_problem(meta.get("effort"))
    if problem:
        raise UserError(problem, path=path, line=key_line(front, "effort", 2))
    budget = meta.get("max_input_tokens")
    if budget is not None and (type(budget) is not int or budget < 1):
        raise UserError(
            f"'max_input_tokens' must be a positive whole number of tokens, not {budget!r}",
            path=path,
            line=key_line(front, "max_input_tokens", 2),
        )
    cache_spec(meta, path, lambda key: key_line(front, key, 2))
    for key in ("tier", "examples", "description"):
        if key in meta and not isinstance(meta[key], str):
            raise UserError(f"'{key}' must be a string", path=path, line=key_line(front, key, 2))
