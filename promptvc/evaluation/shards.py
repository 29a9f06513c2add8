"""Sharded runs: `eval --shard K/N` takes a deterministic part of a plan's cases, and `merge`
brings the shards' stored results into one store and one run, scored as an unsharded run is.

A case belongs to a shard by a hash of its set id and case id, never by its position: adding a
case moves no other case to another machine, and all samples of a case stay together (a case's
pass^k needs them all).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from promptvc.errors import UserError
from promptvc.evaluation.plan import EvalPlan, SetPlan
from promptvc.git.snapshot import WORKTREE, Where
from promptvc.stats import seed_of
from promptvc.store import Store
from promptvc.wording import plural
from promptvc.workspace import Workspace

if TYPE_CHECKING:
    from promptvc.evaluation.runner import RunOutcome

_SPEC = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as the user writes it
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        match = _SPEC.fullmatch(spec.strip())
        if not match:
            raise UserError(f"--shard {spec!r}: expected K/N with whole numbers, e.g. 1/4")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise UserError(f"--shard {spec!r}: K must be from 1 to N (N at least 1)")
        return cls(index, count)

    def holds(self, set_id: str, case_id: str) -> bool:
        return shard_of(set_id, case_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(set_id: str, case_id: str, count: int) -> int:
    """The 1-based shard a case runs on, out of `count`."""
    return seed_of("shard", set_id, case_id) % count + 1


def shard_plan(plan: EvalPlan, shard: Shard) -> EvalPlan:
    """The plan's cases that this shard runs; a set cut in part records no set score here."""
    sets = []
    for set_plan in plan.sets:
        jobs = tuple(j for j in set_plan.jobs if shard.holds(set_plan.golden.id, j.case.id))
        if jobs:
            whole = set_plan.whole and len(jobs) == len(set_plan.jobs)
            sets.append(replace(set_plan, jobs=jobs, whole=whole))
    return replace(plan, sets=tuple(sets))


@dataclass(frozen=True)
class Imported:
    results: int  # result rows read (already present ones included)
    responses: int
    set_keys: frozenset[str]  # the sets the shards' last runs evaluated
    commits: frozenset[str]  # the commits those runs evaluated


def import_shards(store: Store, paths: Iterable[str]) -> Imported:
    """Copy every result and recorded response of these databases into `store` (content-keyed:
    what is there already stays), and say what each one's newest complete run evaluated."""
    results = responses = 0
    set_keys: set[str] = set()
    commits: set[str] = set()
    for path in paths:
        if not Path(path).is_file():
            raise UserError("no such database file (a shard's .promptvc/promptvc.db)", path=path)
        shard = Store(Path(path), readonly=True)
        try:
            rows = shard.all_results()
            recorded = list(shard.export_responses())
            last = shard.last_run(complete=True)
            if last is None:
                raise UserError("holds no complete run to merge", path=path)
            set_keys |= shard.run_set_keys(last["id"])
            if last["commit_sha"]:
                commits.add(last["commit_sha"])
        finally:
            shard.close()
        store.import_results(rows)
        store.save_responses(recorded)
        results += len(rows)
        responses += len(recorded)
    return Imported(results, responses, frozenset(set_keys), frozenset(commits))


def merged_plan(plan: EvalPlan, store: Store, set_keys: frozenset[str]) -> EvalPlan:
    """The whole of each set that the shards evaluated; UserError when a case has no result in
    any of them (a shard not merged, or shards of different commits)."""
    sets = tuple(s for s in plan.sets if s.set_key in set_keys)
    if not sets:
        raise UserError(
            "the shards' results belong to no golden set at this revision "
            "(another commit, provider or endpoint? give --rev or --provider as the shards ran)"
        )
    for set_plan in sets:
        _require_complete(set_plan, store)
    return replace(plan, sets=sets)


def _require_complete(set_plan: SetPlan, store: Store) -> None:
    found = store.results(j.key for j in set_plan.jobs)
    missing = sorted({j.case.id for j in set_plan.jobs if j.key not in found})
    if missing:
        raise UserError(
            f"golden set {set_plan.golden.id}: {plural(len(missing), 'case')} with no result in "
            f"the merged databases ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}); "
            "is a shard missing?"
        )


@dataclass(frozen=True)
class Merged:
    imported: Imported
    outcome: RunOutcome
    label: str


def merge_shards(
    ws: Workspace,
    store: Store,
    paths: Iterable[str],
    *,
    rev: str | None,
    provider: str | None,
    repeat: int | None,
) -> Merged:
    """Import the shards' databases and record one run over the whole of every set they
    evaluated: its results are all stored now, so the run reuses them (an errored or skipped
    one is tried again, as in any run)."""
    from promptvc.evaluation.plan import plan_eval
    from promptvc.evaluation.runner import Runner

    imported = import_shards(store, paths)
    snapshot = ws.snapshot(_merged_revision(ws, imported, rev))
    goldens, broken = ws.read_goldens(snapshot)
    plan = plan_eval(
        ws.renderer(snapshot),
        goldens,
        provider=provider,
        default_provider=ws.settings.provider,
        repeat=repeat,
        broken=list(broken),
    )
    plan = merged_plan(plan, store, imported.set_keys)
    runner = Runner(store, ws.settings, str(ws.root))
    outcome = runner.run(
        plan, snapshot_label=snapshot.label, commit_sha=snapshot.commit, command="merge"
    )
    return Merged(imported, outcome, snapshot.label)


def _merged_revision(ws: Workspace, imported: Imported, rev: str | None) -> Where:
    if rev:
        return ws.resolve(rev)
    if len(imported.commits) > 1:
        shas = ", ".join(sorted(c[:7] for c in imported.commits))
        raise UserError(f"the shards evaluated different commits ({shas}); give --rev")
    if imported.commits:
        return ws.resolve(next(iter(imported.commits)))
    return WORKTREE
