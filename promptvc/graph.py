"""What a change reaches: prompts through their templates, partials, examples and tiers;
golden sets through their prompt, their own files, the judge and python assertion modules.

Over-approximate rather than miss: dependencies are taken from both sides of a change,
and a prompt whose includes are computed at render time depends on every partial.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenCatalog, GoldenSet
from promptvc.evals.pyassert import python_dependencies, split_spec, valid_spec
from promptvc.git.snapshot import Snapshot
from promptvc.prompts.file import JUDGE_NAME, JUDGE_NAMES, prompt_name, prompt_names, prompt_path
from promptvc.prompts.render import Renderer
from promptvc.prompts.tiers import DEFAULT_TIER, JUDGE_TIER, TIERS_FILE, tiers_path


@dataclass(frozen=True)
class PromptDeps:
    name: str
    templates: frozenset[str]  # the prompt's own file and every partial it reaches
    dynamic: bool  # an include computed at render time: depends on every partial
    examples: str | None
    tier: str | None
    schema_file: str | None = None  # output_schema's .json file under prompts/
    schema_module: str | None = None  # output_schema's Pydantic model's module
    route: tuple[str, ...] = ()  # a routed prompt's tiers (the first is `tier`)


def changed_files(old: Snapshot, new: Snapshot) -> set[str]:
    paths = set(old.files) | set(new.files)
    return {
        p
        for p in paths
        if (old.files.get(p) and old.files[p].sha) != (new.files.get(p) and new.files[p].sha)
    }


def prompt_deps(renderer: Renderer, name: str, *, partials: bool = True) -> PromptDeps:
    """A prompt's dependencies; partials=False skips parsing templates when no partial changed."""
    key = (name, partials)
    if key not in renderer.deps:
        renderer.deps[key] = _prompt_deps(renderer, name, partials)
    return renderer.deps[key]


def _prompt_deps(renderer: Renderer, name: str, with_partials: bool) -> PromptDeps:
    path = prompt_path(name, renderer.prompts_dir)
    try:
        prompt = renderer.prompt(name)
        partials, dynamic = renderer.partials_of(name) if with_partials else (frozenset(), False)
        examples = renderer.loader.path_of(prompt.examples_path) if prompt.examples_path else None
        tier = prompt.tier or DEFAULT_TIER
        schema_file, schema_module = _schema_deps(renderer, prompt.output_schema)
    except UserError:
        # A prompt we cannot parse may depend on anything.
        return PromptDeps(name, frozenset({path}), True, None, None)
    return PromptDeps(
        name,
        frozenset({path}) | partials,
        dynamic,
        examples,
        tier,
        schema_file,
        schema_module,
        prompt.route.tiers if prompt.route else (),
    )


def _schema_deps(renderer: Renderer, spec: object) -> tuple[str | None, str | None]:
    """(the schema file, the model's module) of a front-matter output_schema."""
    if not isinstance(spec, str):
        return None, None
    if valid_spec(spec):
        return None, split_spec(spec)[0]
    return renderer.loader.path_of(spec), None


def tier_changes(old: Renderer, new: Renderer) -> dict[str, list[str]]:
    """{tier: [changed keys]} between two tiers.yaml files."""
    before, after = _tiers_or_empty(old), _tiers_or_empty(new)
    changes = {}
    for tier in sorted(set(before) | set(after)):
        a, b = before.get(tier) or {}, after.get(tier) or {}
        if a != b:
            changes[tier] = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) or ["(all)"]
    return changes


def _tiers_or_empty(renderer: Renderer) -> dict:
    try:
        return renderer.tiers
    except UserError:
        return {}


def reached_prompts(old: Renderer, new: Renderer, changed: set[str]) -> dict[str, list[str]]:
    """Every prompt a change reaches, with the reasons, in name order."""
    prompts_dir = new.prompts_dir
    reached: dict[str, list[str]] = {}
    other = set()
    for path in sorted(changed):
        name = prompt_name(path, prompts_dir)
        if name in JUDGE_NAMES:
            continue
        if name is not None:
            reached.setdefault(name, []).append("template")
        elif path.startswith(prompts_dir + "/"):
            other.add(path)
    if not other:
        return reached
    tiers = tier_changes(old, new) if tiers_path(prompts_dir) in other else {}
    partials = any(p.endswith(".jinja") for p in other)
    for renderer in (old, new):
        for name in prompt_names(renderer.snapshot, prompts_dir):
            for reason in _reasons(
                prompt_deps(renderer, name, partials=partials), other, tiers, prompts_dir
            ):
                if reason not in reached.setdefault(name, []):
                    reached[name].append(reason)
    return {name: reasons for name, reasons in sorted(reached.items()) if reasons}


def _reasons(
    deps: PromptDeps, changed: set[str], tiers: dict[str, list[str]], prompts_dir: str
) -> list[str]:
    reasons = []
    for path in sorted(changed):
        rel = path[len(prompts_dir) + 1 :]
        is_template = path.endswith(".jinja") and not rel.startswith("examples/")
        if path in deps.templates or (
            deps.dynamic and is_template and prompt_name(path, prompts_dir) is None
        ):
            reasons.append(f"via {rel}")
        elif path in (deps.examples, deps.schema_file):
            reasons.append(f"via {rel}")
    reached = [t for t in (deps.route or (deps.tier,)) if t in tiers]
    if reached:
        keys = ", ".join(f"{tier}.{k}" for tier in reached for k in tiers[tier])
        reasons.append(f"via {TIERS_FILE}: {keys}")
    elif deps.tier is None and tiers:
        reasons.append(f"via {TIERS_FILE}")
    return reasons


def judge_changed(old: Renderer, new: Renderer, changed: set[str]) -> bool:
    judge_file = prompt_path(JUDGE_NAME, new.prompts_dir)
    return judge_file in changed or JUDGE_TIER in tier_changes(old, new)


def partial_reach(old: Renderer, new: Renderer, changed: set[str]) -> dict[str, list[str]]:
    """For each changed partial, examples file or tiers.yaml: the prompts it reaches."""
    prompts_dir = new.prompts_dir
    shared = sorted(
        p
        for p in changed
        if p.startswith(prompts_dir + "/") and prompt_name(p, prompts_dir) is None
    )
    if not shared:
        return {}
    reach: dict[str, set[str]] = {p: set() for p in shared}
    tiers = tier_changes(old, new) if tiers_path(prompts_dir) in changed else {}
    partials = any(p.endswith(".jinja") for p in shared)
    for renderer in (old, new):
        for name in prompt_names(renderer.snapshot, prompts_dir):
            deps = prompt_deps(renderer, name, partials=partials)
            for path in shared:
                if _reasons(
                    deps, {path}, tiers if path == tiers_path(prompts_dir) else {}, prompts_dir
                ):
                    reach[path].add(name)
    return {path: sorted(names) for path, names in reach.items()}


@dataclass(frozen=True)
class AffectedSet:
    golden: GoldenSet  # as in the new snapshot
    reasons: tuple[str, ...]  # why its scores can move, in words a user reads


def affected(
    old: Renderer, new: Renderer, old_goldens: GoldenCatalog, new_goldens: GoldenCatalog
) -> list[AffectedSet]:
    """The golden sets whose scores a change can move, with the reasons. The one rule that
    `diff`, `eval --changed-since`, `diff --eval`, `check` and the TUI all ask."""
    changed = changed_files(old.snapshot, new.snapshot)
    prompts = reached_prompts(old, new, changed)
    judge = judge_changed(old, new, changed)
    before = old_goldens.ids()
    evals_changed = new_goldens.cases_file_changed(changed)
    chosen = []
    for path in new_goldens.paths:
        set_id, prompt = new_goldens.header(path)
        if not (
            set_id not in before
            or path in changed
            or prompt in prompts
            or judge
            or evals_changed
            or new_goldens.may_use_python(path)
            or any(_schema_module(r, prompt) for r in (old, new))
        ):
            continue
        golden = new_goldens.load(path)
        previous = old_goldens.load(before[set_id]) if set_id in before else None
        reasons = _set_reasons(old, new, golden, previous, prompts, judge)
        if reasons:
            chosen.append(AffectedSet(golden, tuple(reasons)))
    return chosen


def affected_sets(
    old: Renderer, new: Renderer, old_goldens: GoldenCatalog, new_goldens: GoldenCatalog
) -> list[GoldenSet]:
    """The golden sets (as in `new`) whose scores a change can move."""
    return [a.golden for a in affected(old, new, old_goldens, new_goldens)]


def _set_reasons(
    old: Renderer,
    new: Renderer,
    golden: GoldenSet,
    previous: GoldenSet | None,
    prompts: dict[str, list[str]],
    judge: bool,
) -> list[str]:
    reasons = []
    if previous is None:
        reasons.append("new golden set")
    elif previous.sha != golden.sha:
        reasons.append("golden file changed")
    elif previous.cases != golden.cases:
        reasons.append("cases file changed")
    if golden.prompt in prompts:
        reasons.append(f"prompt {golden.prompt} changed")
    if judge and golden.uses_judge:
        reasons.append("judge changed")
    module = _changed_module(old, new, golden)
    if module:
        reasons.append(f"python module {module} changed")
    return reasons


def _schema_module(renderer: Renderer, prompt: str | None) -> str | None:
    """The module of the Pydantic model a prompt's output_schema names, if it names one."""
    path = prompt_path(prompt, renderer.prompts_dir) if prompt is not None else ""
    if prompt is None or path not in renderer.snapshot:
        return None
    try:  # asked of every set's prompt: a file that never says output_schema is not parsed
        if "output_schema" not in renderer.snapshot.read_text(path):
            return None
    except UserError:
        return None
    return prompt_deps(renderer, prompt, partials=False).schema_module


def schema_modules(renderer: Renderer) -> set[str]:
    """The modules of every Pydantic model that a prompt's output_schema names."""
    names = prompt_names(renderer.snapshot, renderer.prompts_dir)
    return {m for m in (_schema_module(renderer, n) for n in names) if m}


def _changed_module(old: Renderer, new: Renderer, golden: GoldenSet) -> str | None:
    """The first file that the set's python assertions or its prompt's Pydantic output_schema
    load (a module or a helper it imports) and that differs between the two sides."""
    modules = golden.python_modules + tuple(
        m for m in {_schema_module(r, golden.prompt) for r in (old, new)} if m
    )
    if not modules:
        return None
    before = python_dependencies(old.snapshot, modules)
    after = python_dependencies(new.snapshot, modules)
    return next(
        (
            path
            for path in sorted(before.keys() | after.keys())
            if before.get(path) != after.get(path)
        ),
        None,
    )
