"""Content keys: a golden set's key at a snapshot is a hash of everything its scores depend on.

Results are stored under these keys, so scores computed on staged content are found again
for the commit it produced, and for any commit where the set's inputs are the same.
"""

from __future__ import annotations

from promptvc.evals.goldens import GoldenSet
from promptvc.evals.pyassert import python_dependencies
from promptvc.evaluation.request import content_hash
from promptvc.graph import prompt_deps
from promptvc.prompts.judge import judge_fingerprint
from promptvc.prompts.render import Renderer
from promptvc.providers import Identity

KEY_VERSION = "set-key/1"


def set_key(renderer: Renderer, golden: GoldenSet, identity: Identity) -> str:
    snapshot = renderer.snapshot
    # The golden file by content only, so a renamed set (same id) keeps its key.
    files: dict = {"<golden>": golden.sha}
    if golden.cases_path:
        files["<cases>"] = snapshot.files[golden.cases_path].sha
    deps = prompt_deps(renderer, golden.prompt)
    templates = set(deps.templates)
    if deps.dynamic:
        templates |= {p for p in snapshot.under(renderer.prompts_dir, (".jinja",))}
    for path in sorted(templates):
        files[path] = snapshot.files[path].sha if path in snapshot else None
    if deps.examples:
        files[deps.examples] = (
            snapshot.files[deps.examples].sha if deps.examples in snapshot else None
        )
    if deps.schema_file:
        files[deps.schema_file] = (
            snapshot.files[deps.schema_file].sha if deps.schema_file in snapshot else None
        )
    modules = golden.python_modules + ((deps.schema_module,) if deps.schema_module else ())
    files.update(python_dependencies(snapshot, modules))
    tier = renderer.tiers.get(deps.tier) if deps.tier else None
    judge = judge_fingerprint(renderer) if golden.uses_judge else None
    return content_hash(KEY_VERSION, files, tier, judge, identity.kind, identity.endpoint)


def result_key(set_key_: str, case_id: str, sample: int) -> str:
    return content_hash("result/1", set_key_, case_id, sample)


def judge_key(renderer: Renderer) -> str:
    """The judge's version: its template (with its partials) and its tier's config, as it enters
    the key of every set that uses llm-rubric. Calibrations against human labels are stored under it."""
    return content_hash("judge-key/1", judge_fingerprint(renderer))


def labels_key(text: str) -> str:
    """A labels file's version, by its content as a snapshot reads it (CRLF read as LF)."""
    return content_hash("labels/1", text)
