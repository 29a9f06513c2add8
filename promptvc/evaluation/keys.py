"""Content keys: a golden set's key at a snapshot is a hash of everything its scores depend on.

Results are stored under these keys, so scores computed on staged content are found again
for the commit it produced, and for any commit where the set's inputs are the same.
"""

from __future__ import annotations

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenSet
from promptvc.evals.pyassert import python_dependencies
from promptvc.evaluation.request import content_hash
from promptvc.graph import prompt_deps
from promptvc.prompts.judge import judge_config, judge_fingerprint
from promptvc.prompts.render import Renderer
from promptvc.prompts.tiers import EffectiveConfig, tier_error
from promptvc.providers import Connection, Identity, identity_for

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
    route = renderer.route(golden.prompt)
    # A routed set depends on every tier of its route (an unrouted set's key is as it was).
    routed = ([[t, renderer.tiers.get(t)] for t in route.tiers],) if route else ()
    return content_hash(KEY_VERSION, files, tier, judge, identity.kind, identity.endpoint, *routed)


def set_identity(
    renderer: Renderer, golden: GoldenSet, override: str | None, default: str
) -> Identity:
    """Who answers a set's cases: the offline mode the set or --provider names, else its prompt's
    tier's provider, live or from recordings."""
    if golden.provider == "echo" or override == "echo":
        return identity_for(golden.provider, override, default)
    return _identity(renderer, renderer.config(golden.prompt), golden.provider, override, default)


def tier_identity(
    renderer: Renderer, golden: GoldenSet, tier: str, override: str | None, default: str
) -> Identity:
    """Who answers a set's cases at one tier of its prompt's route, by the rules of set_identity."""
    if golden.provider == "echo" or override == "echo":
        return identity_for(golden.provider, override, default)
    config = renderer.config(golden.prompt, tier)
    return _identity(renderer, config, golden.provider, override, default)


def judge_identity(
    renderer: Renderer, set_provider: str | None, override: str | None, default: str
) -> Identity:
    """Who answers the judge: the judge tier's provider, chosen by the same rules as a set's."""
    return _identity(renderer, judge_config(renderer), set_provider, override, default)


def _identity(
    renderer: Renderer,
    config: EffectiveConfig,
    set_provider: str | None,
    override: str | None,
    default: str,
) -> Identity:
    try:
        return identity_for(set_provider, override, default, Connection.of(config.connection))
    except UserError as exc:  # an unknown provider, a missing extra: the tier's
        if not config.connection:
            raise
        raise tier_error(renderer.snapshot, renderer.prompts_dir, config.tier, exc) from None


def result_key(set_key_: str, case_id: str, sample: int) -> str:
    return content_hash("result/1", set_key_, case_id, sample)


def judge_key(renderer: Renderer) -> str:
    """The judge's version: its template (with its partials) and its tier's config, as it enters
    the key of every set that uses llm-rubric. Calibrations against human labels are stored under it."""
    return content_hash("judge-key/1", judge_fingerprint(renderer))


def labels_key(text: str) -> str:
    """A labels file's version, by its content as a snapshot reads it (CRLF read as LF)."""
    return content_hash("labels/1", text)
