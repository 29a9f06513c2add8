"""What a prompt/config diff really changes: config, examples, template, rendered messages, cost."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenCatalog, GoldenSet
from promptvc.graph import (
    AffectedSet,
    affected,
    changed_files,
    judge_changed,
    partial_reach,
    reached_prompts,
)
from promptvc.names import require_matches, selected
from promptvc.prompts.capabilities import dropped
from promptvc.prompts.file import prompt_names, prompt_path
from promptvc.prompts.output_schema import SchemaChange, schema_changes
from promptvc.prompts.render import Renderer
from promptvc.rendered_diff import RenderedChange, or_default, rendered_change, unified_lines

if TYPE_CHECKING:
    from promptvc.calibration import KappaChange
    from promptvc.workspace import Workspace


@dataclass(frozen=True)
class ConfigChange:
    key: str
    old: Any
    new: Any
    source: str


@dataclass(frozen=True)
class ExampleChange:
    kind: str  # added, removed, changed
    label: str


@dataclass(frozen=True)
class PromptChange:
    name: str
    path: str
    status: str  # modified, added, removed, reached
    reasons: tuple[str, ...]
    tier: str | None
    model: str | None
    config: tuple[ConfigChange, ...]
    examples: tuple[ExampleChange, ...]
    examples_file: str | None
    examples_count: tuple[int, int]
    template: tuple[str, ...]
    rendered: RenderedChange | None
    goldens: tuple[tuple[str, str, int], ...]  # (set id, path, cases)
    old_name: str | None = None  # a renamed prompt's name before
    untracked: bool = False  # a working-tree file git does not track yet
    warnings: tuple[str, ...] = ()  # parameters its model rejects, so they are not sent
    schema: SchemaDiff | None = None  # its output_schema, when that changed
    route: str | None = None  # a routed prompt's tiers (`fast→default`); `tier` is its first


@dataclass(frozen=True)
class SchemaDiff:
    """A change of output_schema: where each side's schema comes from (`inline`, a file, a
    `module:Class`, or None) and the fields it changes. A Pydantic model is not loaded by a diff
    (that runs repository code), so its fields are not compared: `unread` names the side."""

    old_source: str | None
    new_source: str | None
    changes: tuple[SchemaChange, ...]
    unread: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetChange:
    id: str
    path: str
    status: str
    prompt: str
    cases: tuple[int, int]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    old_path: str | None = None


@dataclass(frozen=True)
class DiffReport:
    old_label: str
    new_label: str
    prompts: tuple[PromptChange, ...]
    shared: dict[str, list[str]]  # partial / examples / tiers.yaml -> prompts it reaches
    sets: tuple[SetChange, ...]
    affected_sets: tuple[AffectedSet, ...] = field(default=())
    judge_changed: bool = False
    # When the judge changed: per labelled set, its κ against people before and after.
    judge_kappa: tuple[KappaChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.prompts or self.sets or self.shared or self.judge_changed or self.affected_sets
        )

    @property
    def affected_cases(self) -> int:
        return sum(len(a.golden.cases) for a in self.affected_sets)

    @property
    def run_cost_delta(self) -> float | None:
        """The input cost change of a full run; None ("cost unknown") when any side has no price."""
        rendered = [
            p.rendered
            for p in self.prompts
            if p.rendered and not (p.rendered.error or p.rendered.old_error)
        ]
        if not rendered or any(r.run_cost_delta is None for r in rendered):
            return None
        return sum(r.run_cost_delta for r in rendered if r.run_cost_delta is not None)

    @property
    def unpriced(self) -> tuple[str, ...]:
        return tuple(sorted({m for p in self.prompts if p.rendered for m in p.rendered.unpriced}))


def diff_report(
    ws: Workspace,
    revs: tuple[str, ...],
    names: tuple[str, ...],
    *,
    staged: bool = False,
    all_cases: bool = False,
) -> DiffReport:
    """The diff between two revisions, taken as `git diff` takes them; names as prompt names or paths."""
    from promptvc.git.revisions import diff_range
    from promptvc.names import as_name

    names = tuple(as_name(n, ws.settings.prompts_dir) for n in names)
    span = diff_range(ws.repo, revs, staged)
    old_snap, new_snap = ws.snapshot(span.old), ws.snapshot(span.new)
    old, new = ws.renderer(old_snap), ws.renderer(new_snap)
    report = compute_diff(
        old,
        new,
        ws.catalog(old_snap),
        ws.catalog(new_snap),
        old_label=span.old_label,
        new_label=span.new_label,
        names=names,
        all_cases=all_cases,
    )
    if not report.judge_changed:
        return report  # the database is opened only to say what a judge change did to κ
    from promptvc.calibration import kappa_changes

    return replace(report, judge_kappa=kappa_changes(ws.db_path, old, new, ws.settings.evals_dir))


def commit_report(ws: Workspace, sha: str, parent: str | None, set_id: str) -> DiffReport:
    """What one commit changed for a golden set's prompt and the set, against its first parent
    (the empty tree for a root commit): the line `blame` and `bisect` show beside a change."""
    from promptvc.git.snapshot import EMPTY, Commit

    old_snap = ws.snapshot(Commit(parent) if parent else EMPTY)
    new_snap = ws.snapshot(Commit(sha))
    old, new = ws.renderer(old_snap), ws.renderer(new_snap)
    old_sets, new_sets = ws.catalog(old_snap), ws.catalog(new_snap)
    golden = next((g for g in ws.goldens(new_snap) if g.id == set_id), None)
    prompt = golden.prompt if golden else set_id
    known = any(prompt in prompt_names(r.snapshot, r.prompts_dir) for r in (old, new))
    return compute_diff(
        old,
        new,
        old_sets,
        new_sets,
        old_label=parent[:7] if parent else "empty",
        new_label=sha[:7],
        names=(prompt,) if known else (),
    )


def compute_diff(
    old: Renderer,
    new: Renderer,
    old_goldens: GoldenCatalog,
    new_goldens: GoldenCatalog,
    *,
    old_label: str,
    new_label: str,
    names: tuple[str, ...] = (),
    all_cases: bool = False,
) -> DiffReport:
    if names:
        _require_known(old, new, old_goldens, new_goldens, names)
    changed = changed_files(old.snapshot, new.snapshot)
    reached = reached_prompts(old, new, changed)
    renames = renamed_prompts(old, new, reached)
    for new_name, old_name in renames.items():
        reached[new_name] = [
            r for r in reached.pop(old_name, []) + reached[new_name] if r != "template"
        ] or ["template"]
    prompts = [
        _prompt_change(
            old, new, name, reasons, old_goldens, new_goldens, all_cases, renames.get(name, name)
        )
        for name, reasons in sorted(reached.items())
        if selected(name, names)
    ]
    sets = tuple(
        s
        for s in _set_changes(old_goldens, new_goldens, changed)
        if any(selected(x, names) for x in (s.prompt, s.id, s.path))
    )
    judge = judge_changed(old, new, changed)
    reach = tuple(
        a
        for a in affected(old, new, old_goldens, new_goldens)
        if any(selected(x, names) for x in (a.golden.prompt, a.golden.id, a.golden.path))
    )
    shared = {
        p: n
        for p, n in partial_reach(old, new, changed).items()
        if any(selected(x, names) for x in n) or not names
    }
    return DiffReport(old_label, new_label, tuple(prompts), shared, sets, reach, judge)


def _require_known(
    old: Renderer,
    new: Renderer,
    old_goldens: GoldenCatalog,
    new_goldens: GoldenCatalog,
    names: tuple[str, ...],
) -> None:
    """A name that is neither a prompt nor a golden set on either side is a mistake, not 'no change'."""
    known = {
        *prompt_names(old.snapshot, old.prompts_dir),
        *prompt_names(new.snapshot, new.prompts_dir),
    }
    for goldens in (old_goldens, new_goldens):
        for set_id, path in goldens.ids().items():
            known |= {set_id, path}
    require_matches(names, known)


def renamed_prompts(old: Renderer, new: Renderer, reached: dict[str, list[str]]) -> dict[str, str]:
    """{new name: old name} for prompt files that moved: the same content, or mostly the same."""
    added = [n for n in reached if prompt_path(n, new.prompts_dir) not in old.snapshot]
    removed = [n for n in reached if prompt_path(n, new.prompts_dir) not in new.snapshot]
    if not added or not removed or len(added) * len(removed) > 2500:
        return {}
    renames: dict[str, str] = {}
    for new_name in added:
        candidates = [o for o in removed if o not in renames.values()]
        best = max(candidates, key=lambda o: _similarity(old, new, o, new_name), default=None)
        if best is not None and _similarity(old, new, best, new_name) >= 0.5:
            renames[new_name] = best
    return renames


def _similarity(old: Renderer, new: Renderer, old_name: str, new_name: str) -> float:
    a, b = (
        old.snapshot.files[prompt_path(old_name, old.prompts_dir)],
        new.snapshot.files[prompt_path(new_name, new.prompts_dir)],
    )
    if a.sha == b.sha:
        return 1.0
    return difflib.SequenceMatcher(
        a=_source(old, old_name), b=_source(new, new_name), autojunk=False
    ).ratio()


def _status(old: Renderer, new: Renderer, name: str, old_name: str) -> str:
    path, old_path = prompt_path(name, new.prompts_dir), prompt_path(old_name, new.prompts_dir)
    if old_path not in old.snapshot:
        return "added"
    if path not in new.snapshot:
        return "removed"
    if old_name != name:
        return "renamed"
    return "modified" if old.snapshot.files[path].sha != new.snapshot.files[path].sha else "reached"


def _prompt_change(
    old: Renderer,
    new: Renderer,
    name: str,
    reasons: list[str],
    old_goldens: GoldenCatalog,
    new_goldens: GoldenCatalog,
    all_cases: bool,
    old_name: str,
) -> PromptChange:
    status = _status(old, new, name, old_name)
    if broken := _broken_side(old, new, name, status, old_name):
        # A side whose front matter does not load has no config or examples to compare: saying they
        # were all removed would be false. The template diff shows the typo, the error says what it is.
        old_error, new_error = broken
        return PromptChange(
            name=name,
            path=prompt_path(name, new.prompts_dir),
            status=status,
            reasons=tuple(reasons),
            tier=None,
            model=None,
            config=(),
            examples=(),
            examples_file=None,
            examples_count=(0, 0),
            template=tuple(unified_lines(_source(old, old_name), _source(new, name))),
            rendered=RenderedChange(
                0, 0, None, (), 0, None, None, error=new_error, old_error=old_error
            ),
            goldens=tuple(
                (g.id, g.path, len(g.cases))
                for g in or_default(lambda: new_goldens.naming({name}), [])
            ),
            old_name=old_name if old_name != name else None,
            untracked=_untracked(new, name),
        )
    side = old if status == "removed" else new
    config = or_default(lambda: side.config(name), None)
    old_examples = or_default(lambda: old.examples(old_name), []) if status != "added" else []
    new_examples = or_default(lambda: new.examples(name), []) if status != "removed" else []
    sets = (new_goldens if status != "removed" else old_goldens).naming({name})
    old_sets = or_default(lambda: old_goldens.naming({old_name}), []) if status != "added" else []
    new_sets = or_default(lambda: new_goldens.naming({name}), []) if status != "removed" else []
    examples_file = or_default(lambda: side.prompt(name).examples_path, None)
    return PromptChange(
        name=name,
        path=prompt_path(name, new.prompts_dir),
        status=status,
        reasons=tuple(reasons),
        tier=config.tier if config else None,
        model=config.model if config else None,
        config=tuple(_config_changes(old, new, name, status, old_name)),
        examples=tuple(example_changes(old_examples, new_examples)),
        examples_file=examples_file,
        examples_count=(len(old_examples), len(new_examples)),
        template=tuple(unified_lines(_source(old, old_name), _source(new, name))),
        rendered=rendered_change(old, new, name, old_sets, new_sets, all_cases, old_name),
        goldens=tuple((g.id, g.path, len(g.cases)) for g in sets),
        old_name=old_name if old_name != name else None,
        untracked=_untracked(new, name),
        warnings=tuple(str(d) for d in dropped(config.model, config.params))
        if config and status != "removed"
        else (),
        schema=_schema_diff(old, new, name, status, old_name),
        route=_route_label(side, name),
    )


def _route_label(renderer: Renderer, name: str) -> str | None:
    route = or_default(lambda: renderer.prompt(name).route, None)
    return route.label if route else None


def _schema_diff(
    old: Renderer, new: Renderer, name: str, status: str, old_name: str
) -> SchemaDiff | None:
    before = (
        or_default(lambda: old.config(old_name).output_schema, None) if status != "added" else None
    )
    after = (
        or_default(lambda: new.config(name).output_schema, None) if status != "removed" else None
    )
    if before is None and after is None:
        return None
    sides = {"old": before, "new": after}
    unread = tuple(side for side, s in sides.items() if s is not None and s.schema is None)
    changes: tuple[SchemaChange, ...] = ()
    if not unread and before != after:
        changes = tuple(schema_changes(before and before.schema, after and after.schema))
    sources = (before and before.source, after and after.source)
    if not changes and sources[0] == sources[1]:
        return None
    return SchemaDiff(sources[0], sources[1], changes, unread)


def _load_error(renderer: Renderer, name: str) -> str | None:
    if prompt_path(name, renderer.prompts_dir) not in renderer.snapshot:
        return None
    try:
        renderer.config(name)
        renderer.examples(name)
    except UserError as exc:
        return str(exc)
    return None


def _broken_side(
    old: Renderer, new: Renderer, name: str, status: str, old_name: str
) -> tuple[str | None, str | None] | None:
    """(old error, new error) when a side's prompt file, config or examples do not load."""
    old_error = _load_error(old, old_name) if status != "added" else None
    new_error = _load_error(new, name) if status != "removed" else None
    return (old_error, new_error) if old_error or new_error else None


def _untracked(renderer: Renderer, name: str) -> bool:
    ref = renderer.snapshot.files.get(prompt_path(name, renderer.prompts_dir))
    return bool(ref and ref.untracked)


# -- config --------------------------------------------------------------------------


def _config_dict(renderer: Renderer, name: str) -> tuple[dict, dict]:
    config = or_default(lambda: renderer.config(name), None)
    if config is None:
        return {}, {}
    params = dict(config.params)
    sources = dict(config.sources)
    # The tier's provider and endpoint, and its price: config like any other, from tiers.yaml.
    tier_only = {**config.connection, **({"price": config.price} if config.price else {})}
    for key, value in tier_only.items():
        params[key] = value
        sources[key] = f"tiers.yaml: {config.tier}"
    # A route and its rules decide which model answers: config, named as such, not template text.
    route = or_default(lambda: renderer.prompt(name).route, None)
    if route is not None:
        params["route"] = route.label
        params["escalate_on"] = "; ".join(rule.describe() for rule in route.rules)
        sources["route"] = sources["escalate_on"] = "front matter"
    return params, sources


def _config_changes(
    old: Renderer, new: Renderer, name: str, status: str, old_name: str
) -> list[ConfigChange]:
    if status in ("added", "removed"):  # the header shows the whole config
        return []
    before, old_sources = _config_dict(old, old_name)
    after, new_sources = _config_dict(new, name)
    if before == after:  # DeepDiff costs about a millisecond even on equal dicts
        return []
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    changes = []
    for items in DeepDiff(before, after, verbose_level=2).tree.values():
        for level in items:
            path = level.path(output_format="list")
            key = ".".join(str(p) for p in path) or "(config)"
            absent = level.t1 is notpresent, level.t2 is notpresent
            top = path[0] if path else None
            source = new_sources.get(top) or old_sources.get(top) or ""
            changes.append(
                ConfigChange(
                    key, None if absent[0] else level.t1, None if absent[1] else level.t2, source
                )
            )
    return sorted(changes, key=lambda c: c.key)


# -- examples --------------------------------------------------------------------------


def _example_label(item: Any) -> str:
    if isinstance(item, dict):
        text = next(
            (v for v in item.values() if isinstance(v, str)), json.dumps(item, ensure_ascii=False)
        )
    else:
        text = str(item)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def example_changes(before: list, after: list) -> list[ExampleChange]:
    def keys(items: list) -> list[str]:
        return [json.dumps(i, sort_keys=True, ensure_ascii=False, default=str) for i in items]

    changes = []
    matcher = difflib.SequenceMatcher(a=keys(before), b=keys(after), autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace":
            paired = min(a1 - a0, b1 - b0)
            changes += [
                ExampleChange("changed", _example_label(after[b0 + i])) for i in range(paired)
            ]
            changes += [
                ExampleChange("removed", _example_label(x)) for x in before[a0 + paired : a1]
            ]
            changes += [ExampleChange("added", _example_label(x)) for x in after[b0 + paired : b1]]
        elif op == "delete":
            changes += [ExampleChange("removed", _example_label(x)) for x in before[a0:a1]]
        else:
            changes += [ExampleChange("added", _example_label(x)) for x in after[b0:b1]]
    return changes


# -- template source -----------------------------------------------------------------


def _source(renderer: Renderer, name: str) -> list[str]:
    path = prompt_path(name, renderer.prompts_dir)
    if path not in renderer.snapshot:
        return []
    return or_default(lambda: renderer.snapshot.read_text(path).splitlines(), [])


def _set_changes(old: GoldenCatalog, new: GoldenCatalog, changed: set[str]) -> list[SetChange]:
    before, after = old.ids(), new.ids()
    # A changed cases file (.jsonl/.csv) may belong to any set: then every set is looked at.
    other_files = old.cases_file_changed(changed) or new.cases_file_changed(changed)
    changes = []
    for set_id in sorted(set(before) | set(after)):
        a_path, b_path = before.get(set_id), after.get(set_id)
        if a_path is None:
            assert b_path is not None  # the id came from one side or the other
            b = new.load(b_path)
            changes.append(
                SetChange(
                    b.id,
                    b.path,
                    "added",
                    b.prompt,
                    (0, len(b.cases)),
                    added=tuple(c.id for c in b.cases),
                )
            )
        elif b_path is None:
            a = old.load(a_path)
            changes.append(SetChange(a.id, a.path, "removed", a.prompt, (len(a.cases), 0)))
        elif a_path in changed or b_path in changed or other_files:
            a, b = old.load(a_path), new.load(b_path)
            if a_path != b_path or a.sha != b.sha or a.cases != b.cases:
                changes.append(_modified_set(a, b))
    return changes


def _modified_set(a: GoldenSet, b: GoldenSet) -> SetChange:
    old_cases = {c.id: c for c in a.cases}
    new_cases = {c.id: c for c in b.cases}
    status = "renamed" if a.path != b.path else "modified"
    return SetChange(
        b.id,
        b.path,
        status,
        b.prompt,
        (len(a.cases), len(b.cases)),
        added=tuple(i for i in new_cases if i not in old_cases),
        removed=tuple(i for i in old_cases if i not in new_cases),
        changed=tuple(i for i in new_cases if i in old_cases and new_cases[i] != old_cases[i]),
        old_path=a.path if status == "renamed" else None,
    )
