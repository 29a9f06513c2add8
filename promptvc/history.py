"""Score history per commit: the commits that touched prompts (first parents), each golden set's
content key there, and the stored score under that key, whichever command produced it.

The file state of every commit is rolled forward from one `git log --raw` and the blobs are
read through one `git cat-file --batch`; the commit -> set-key table makes a second look free.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from promptvc.errors import UserError
from promptvc.evals.routes import RouteTally
from promptvc.evals.scoring import CacheFigures, Status
from promptvc.git.repo import CommitInfo, history_changes
from promptvc.git.snapshot import Commit, FileRef, Snapshot
from promptvc.names import matches
from promptvc.notes import Noted, noted
from promptvc.providers import key_environment
from promptvc.significance import SetEvidence
from promptvc.store import Store
from promptvc.workspace import Workspace

ScoreSource = Literal["local", "ci"]  # measured on this machine, or read from a git note


@dataclass(frozen=True)
class SetPoint:
    set_id: str
    set_key: str
    prompt: str
    score: float | None = None
    status: Status = Status.NOT_EVALUATED
    provider: str | None = None
    passed: int = 0
    cases: int = 0
    cost: float | None = None
    endpoint: str | None = None
    cache: CacheFigures = field(default_factory=CacheFigures)  # the prompt cache's work for it
    source: ScoreSource = "local"
    # A note's case statuses and scores ({case id: {"status", "score"}}), for a score from a note.
    noted_cases: dict[str, dict] = field(default_factory=dict, compare=False)
    route: RouteTally | None = None  # a routed set's: how many cases went past the first tier

    @property
    def provider_label(self) -> str | None:
        """The provider, and "ci" when the score came from a git note rather than this machine."""
        if self.source == "ci" and self.provider:
            return f"{self.provider} · ci"
        return self.provider

    @property
    def evaluated(self) -> bool:
        return self.score is not None

    @cached_property  # asked for every pair of commits a long log compares
    def scores_key(self) -> tuple[str, str | None]:
        """Which provider and endpoint the score is from ("anthropic (replay)" replays anthropic)."""
        return (self.provider or "").split(" (")[0], self.endpoint

    def comparable(self, other: SetPoint | None) -> bool:
        """Like with like: both evaluated, by the same provider at the same endpoint (never echo vs a model)."""
        return (
            other is not None
            and self.evaluated
            and other.evaluated
            and self.scores_key == other.scores_key
        )


@dataclass(frozen=True)
class CommitPoint:
    commit: CommitInfo
    sets: dict[str, SetPoint]
    parent: dict[str, SetPoint] = field(default_factory=dict)

    @property
    def overall(self) -> float | None:
        scores = [s.score for s in self.sets.values() if s.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def overall_delta(self) -> float | None:
        """The change in the mean over the sets evaluated comparably on both sides only: a set
        evaluated at one side alone moves the overall score, never its delta."""
        pairs = [
            (s.score, self.parent[i].score)
            for i, s in self.sets.items()
            if s.comparable(self.parent.get(i))
        ]
        now = [a for a, _ in pairs if a is not None]
        before = [b for _, b in pairs if b is not None]
        if not now:
            return None
        return sum(now) / len(now) - sum(before) / len(before)

    @property
    def partial(self) -> tuple[str, ...]:
        """The sets this commit changed (or added) that are not evaluated here."""
        return tuple(
            sorted(
                i
                for i, s in self.sets.items()
                if not s.evaluated and (i not in self.parent or self.parent[i].set_key != s.set_key)
            )
        )

    def delta(self, set_id: str) -> float | None:
        now, before = self.sets.get(set_id), self.parent.get(set_id)
        if now is None or before is None or not now.comparable(before):
            return None
        return now.score - before.score  # type: ignore[operator]


def commit_states(
    ws: Workspace, rev: str, limit: int | None
) -> list[tuple[CommitInfo, dict[str, FileRef]]]:
    """Each first-parent commit touching the watched paths (oldest first) with its full file state."""
    repo, paths = ws.repo, ws.settings.watched_paths
    changes = history_changes(repo, rev, paths, limit + 1 if limit else None)
    if not changes:
        return []
    oldest = changes[0][0]
    state: dict[str, FileRef] = {}
    if limit and oldest.parents:
        state = {
            e.path: FileRef(e.path, e.sha, e.mode) for e in repo.ls_tree(oldest.parents[0], paths)
        }
    states = []
    for commit, files in changes:
        for status, mode, sha, path in files:
            if status == "D":
                state.pop(path, None)
            else:
                state[path] = FileRef(path, sha, mode)
        states.append((commit, dict(state)))
    return states


def set_keys_at(ws: Workspace, snapshot: Snapshot) -> list[dict]:
    """Each golden set's content key at a snapshot; UserError when a file it reads is broken."""
    from promptvc.evaluation.keys import set_identity, set_key

    renderer = ws.renderer(snapshot)
    rows: list[dict] = []
    for golden in ws.goldens(snapshot):
        identity = set_identity(renderer, golden, None, ws.settings.provider)
        key = set_key(renderer, golden, identity)
        rows.append(
            {
                "commit_sha": snapshot.commit,
                "set_id": golden.id,
                "set_key": key,
                "prompt": golden.prompt,
                "path": golden.path,
                "endpoint": key_environment(),
            }
        )
    return rows


def history(
    ws: Workspace,
    store: Store,
    rev: str = "HEAD",
    limit: int | None = None,
    names: tuple[str, ...] = (),
    on_warning: Callable[[str], None] | None = None,
) -> list[CommitPoint]:
    """Newest first; each commit with its sets' scores and those at its first parent.

    A commit whose set keys cannot be computed (a broken or hostile file) is shown without scores,
    reported through `on_warning`, and not stored: once fixed, or read by a promptvc that can, it fills in.
    """
    states = commit_states(ws, rev, limit)
    if not states:
        return []
    warn = on_warning or (lambda message: None)
    environment = key_environment()
    notes = noted(ws.repo, environment, warn)
    known = store.commit_sets([c.sha for c, _ in states], environment)
    # A commit a note lists the set keys of needs no computing: a fresh clone opens fast.
    missing = [(c, f) for c, f in states if c.sha not in known and c.sha not in notes.commit_sets]
    if missing:
        fresh = _compute_keys(ws, missing, warn)
        store.save_commit_sets(fresh)
        for row in fresh:
            known.setdefault(row["commit_sha"], []).append(row)
    for commit, _files in states:
        if commit.sha not in known and commit.sha in notes.commit_sets:
            known[commit.sha] = notes.commit_sets[commit.sha]
    scores = store.set_scores({row["set_key"] for rows in known.values() for row in rows})
    points = []
    previous: dict[str, SetPoint] = {}
    # A set's point is the same at every commit that leaves its key alone: made once per key.
    made: dict[tuple[str, str, str], SetPoint] = {}
    for commit, _files in states:
        sets = {}
        for row in known.get(commit.sha, []):
            if row["set_id"] and _wanted(row, names):
                same = (row["set_id"], row["set_key"], row["prompt"])
                if same not in made:
                    made[same] = _scored_point(row, scores, notes)
                sets[row["set_id"]] = made[same]
        points.append(CommitPoint(commit, sets, previous))
        previous = sets
    if limit and len(points) > limit:
        points = points[-limit:]
    return list(reversed(points))


def _wanted(row: dict, names: tuple[str, ...]) -> bool:
    return not names or any(matches(row["set_id"], n) or matches(row["prompt"], n) for n in names)


def _compute_keys(ws: Workspace, states, warn: Callable[[str], None]) -> list[dict]:
    blobs = {ref.sha for _c, files in states for ref in files.values() if not ref.is_symlink}
    snapshots = [Snapshot(ws.repo, Commit(c.sha), files, ws.caches) for c, files in states]
    if snapshots:  # every blob of every commit in one `git cat-file --batch`
        reader = Snapshot(
            ws.repo, Commit(states[0][0].sha), {sha: FileRef(sha, sha) for sha in blobs}, ws.caches
        )
        reader.prefetch(list(reader.files))
    rows = []
    for snapshot in snapshots:
        try:
            keys = set_keys_at(ws, snapshot)
        except (UserError, RecursionError) as exc:
            reason = (
                str(exc) if isinstance(exc, UserError) else "a template nests too deeply to analyse"
            )
            warn(f"skipped commit {(snapshot.commit or '')[:7]}: {reason}")
            continue
        # A commit without golden sets gets an empty marker row, so it is not computed again.
        rows += keys or [
            {
                "commit_sha": snapshot.commit,
                "set_id": "",
                "set_key": "",
                "prompt": "",
                "path": "",
                "endpoint": key_environment(),
            }
        ]
    return rows


def _scored_point(row: dict, scores: dict[str, dict], notes: Noted) -> SetPoint:
    """The local store's score, else a note's (marked "ci")."""
    local = scores.get(row["set_key"])
    if local is not None or row["set_key"] not in notes.scores:
        return _point(row, local)
    return _point(row, notes.scores[row["set_key"]], "ci", notes.cases.get(row["set_key"], {}))


def _point(
    row: dict, score: dict | None, source: ScoreSource = "local", cases: dict | None = None
) -> SetPoint:
    if score is None:
        return SetPoint(row["set_id"], row["set_key"], row["prompt"])
    return SetPoint(
        row["set_id"],
        row["set_key"],
        row["prompt"],
        score["score"],
        Status(score["status"]),
        score["provider"],
        score["passed"] or 0,
        score["cases"] or 0,
        score.get("cost"),
        score.get("endpoint"),
        CacheFigures(
            score.get("cache_write_tokens") or 0,
            score.get("cache_read_tokens") or 0,
            score.get("cache_saved") or 0.0,
        ),
        source,
        cases or {},
        RouteTally.from_json(score.get("route")),
    )


def stored_evidence(
    store: Store, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], SetEvidence]:
    """The figures stored when two set keys were compared (check, diff --eval, the TUI's e), by
    (base key, head key): log and the TUI show them without resampling."""
    return {
        pair: SetEvidence.from_json(row["set_id"], json.loads(row["figures"]))
        for pair, row in store.comparisons(pairs).items()
    }


@dataclass(frozen=True)
class CaseMark:
    """A case at one commit of its set's history: the commits where the set's key changed."""

    commit: CommitInfo
    set_key: str
    status: Status
    source: ScoreSource = "local"

    @property
    def verdict(self) -> str:
        return {Status.PASSED: "pass", Status.FAILED: "fail"}.get(self.status, str(self.status))


@dataclass(frozen=True)
class Measured:
    """What is known of set keys' results without evaluating anything: the local store's, else the
    notes' (a clone that fetched CI's notes knows what CI measured)."""

    store: Store
    notes: Noted

    def set_score(self, set_key: str) -> tuple[float | None, ScoreSource]:
        row = self.store.set_scores([set_key]).get(set_key)
        if row is not None and row["score"] is not None:
            return row["score"], "local"
        noted_score = self.notes.scores.get(set_key, {}).get("score")
        return (noted_score, "ci") if noted_score is not None else (None, "local")

    def case_status(self, set_key: str, case_id: str) -> tuple[Status, ScoreSource]:
        status = case_status(self.store, set_key, case_id)
        if status != Status.NOT_EVALUATED:
            return status, "local"
        row = self.notes.cases.get(set_key, {}).get(case_id)
        return (Status(row["status"]), "ci") if row is not None else (status, "local")


def measured(ws: Workspace, store: Store) -> Measured:
    """The store and the notes, read once (a malformed note was warned about by `history`)."""
    return Measured(store, noted(ws.repo, key_environment()))


def case_status(store: Store, set_key: str, case_id: str) -> Status:
    """A case's status under a set key as stored: its summary over the samples (by the set's
    rule) where a whole run left one, else its first sample's result."""
    summary = store.case_scores(set_key).get(case_id)
    if summary is not None and summary["samples"]:
        return Status.PASSED if summary["passed"] else Status.FAILED
    first = store.case_statuses(set_key).get(case_id)
    return Status(first) if first else Status.NOT_EVALUATED


def set_history(
    ws: Workspace,
    store: Store,
    set_name: str,
    rev: str = "HEAD",
    on_warning: Callable[[str], None] | None = None,
) -> tuple[str, list[tuple[CommitInfo, str]]]:
    """One golden set's id and, oldest first, each first-parent commit that changed its key."""
    points = list(reversed(history(ws, store, rev, names=(set_name,), on_warning=on_warning)))
    ids = sorted({i for p in points for i in p.sets})
    exact = [i for i in ids if i == set_name]
    if not (exact or len(ids) == 1):
        found = f"it matches {', '.join(ids)}" if ids else "no golden set has that id or prompt"
        raise UserError(f"{set_name!r} must name one golden set in the history of {rev}: {found}")
    set_id = (exact or ids)[0]
    changes: list[tuple[CommitInfo, str]] = []
    for point in points:
        now = point.sets.get(set_id)
        if now is not None and (not changes or changes[-1][1] != now.set_key):
            changes.append((point.commit, now.set_key))
    return set_id, changes


def case_history(
    ws: Workspace, store: Store, set_name: str, case_id: str, rev: str = "HEAD"
) -> tuple[str, list[CaseMark]]:
    """The case's status at each commit that changed its set's key (from the store, else the
    notes), oldest first."""
    set_id, changes = set_history(ws, store, set_name, rev)
    known = measured(ws, store)
    return set_id, [CaseMark(c, key, *known.case_status(key, case_id)) for c, key in changes]
