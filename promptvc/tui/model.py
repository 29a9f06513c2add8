"""What the history browser shows, computed without any UI: commits with scores, a commit's
sets against its parent, a set's cases, a case's two outputs, the commit's prompt diff, and
evaluating a commit in place. The TUI gets one of these in its constructor."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from promptvc.compare import Direction, flip_direction
from promptvc.errors import UserError
from promptvc.git.snapshot import EMPTY, Commit
from promptvc.history import CaseMark, CommitPoint, SetPoint, case_history, history, stored_evidence
from promptvc.significance import SetEvidence
from promptvc.store import Store
from promptvc.workspace import Workspace

if TYPE_CHECKING:
    from promptvc.diff import DiffReport
    from promptvc.evaluation.both import BothPlans
    from promptvc.labelling import LabelSession


@dataclass(frozen=True)
class SetRow:
    set_id: str
    prompt: str
    here: SetPoint | None
    parent: SetPoint | None
    flipped: tuple[tuple[str, Direction], ...]  # (case id, which way), regressions first
    evidence: SetEvidence | None = None  # the figures stored when the two were compared
    safety: bool = False  # a `kind: safety` set at this commit

    @property
    def delta(self) -> float | None:
        if not self.here or not self.here.comparable(self.parent):
            return None
        return self.here.score - self.parent.score  # type: ignore[operator, union-attr]

    @property
    def compared_keys(self) -> tuple[str, str] | None:
        """(parent's key, this commit's key) when the two can be compared at all."""
        if self.here is None or self.parent is None or not self.here.comparable(self.parent):
            return None
        return self.parent.set_key, self.here.set_key

    @property
    def changed(self) -> bool:
        return (self.here and self.here.set_key) != (self.parent and self.parent.set_key)


@dataclass(frozen=True)
class CaseRequest:
    system: str
    messages: tuple[tuple[str, str], ...]  # (role, text)


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    here: dict | None  # the stored result row
    parent: dict | None

    @property
    def flip(self) -> Direction | None:
        return flip_direction(
            self.parent["status"] if self.parent else None,
            self.here["status"] if self.here else None,
        )


class HistoryBrowser:
    def __init__(self, ws: Workspace, rev: str = "HEAD"):
        self.ws = ws
        self.rev = rev
        self.store = Store.for_reading(
            ws.db_path
        )  # browsing only reads; `e` opens its own to write
        self._planned: dict[str, BothPlans] = {}
        self.warnings: list[str] = []  # commits history had to skip, shown by the app

    @property
    def branch(self) -> str:
        return self.ws.repo.current_branch() if self.rev == "HEAD" else self.rev

    def commits(self) -> list[CommitPoint]:
        if self.ws.repo.try_resolve(self.rev) is None:
            return []
        self.warnings = []
        return history(self.ws, self.store, self.rev, on_warning=self.warnings.append)

    def set_rows(self, point: CommitPoint) -> list[SetRow]:
        rows = []
        for set_id in sorted(set(point.sets) | set(point.parent)):
            here, parent = point.sets.get(set_id), point.parent.get(set_id)
            flips: tuple[tuple[str, Direction], ...] = ()
            # The same content key on both sides means the same results: no case can have flipped.
            comparable = (
                here is not None
                and parent is not None
                and here.comparable(parent)
                and here.set_key != parent.set_key
            )
            flips = self.flips(here, parent) if comparable else ()  # type: ignore[arg-type]
            either = here or parent
            assert either is not None  # the set id came from one side or the other
            rows.append(SetRow(set_id, either.prompt, here, parent, flips))
        stored = stored_evidence(
            self.store, [pair for r in rows if (pair := r.compared_keys) is not None]
        )
        safety = self.safety_sets(point)
        rows = [
            replace(
                r,
                evidence=stored.get(r.compared_keys) if r.compared_keys else None,
                safety=r.set_id in safety,
            )
            for r in rows
        ]
        rows.sort(key=lambda r: (not r.changed, not r.flipped, r.set_id))
        return rows

    def flips(self, here: SetPoint, parent: SetPoint) -> tuple[tuple[str, Direction], ...]:
        now, before = self._statuses(here), self._statuses(parent)
        flipped = [
            (case_id, d)
            for case_id in sorted(now.keys() & before.keys())
            if (d := flip_direction(before[case_id], now[case_id]))
        ]
        return tuple(sorted(flipped, key=lambda f: f[1] is not Direction.REGRESSED))

    def case_rows(self, here: SetPoint | None, parent: SetPoint | None) -> list[CaseRow]:
        now, before = self._results(here), self._results(parent)
        rows = [
            CaseRow(case_id, now.get(case_id), before.get(case_id))
            for case_id in sorted(set(now) | set(before))
        ]
        rows.sort(key=lambda r: (not r.flip, r.case_id))
        return rows

    def _statuses(self, point: SetPoint) -> dict[str, str]:
        if point.source == "ci":  # a note: case statuses without outputs
            return {case: row["status"] for case, row in point.noted_cases.items()}
        return self.store.case_statuses(point.set_key)

    def _results(self, point: SetPoint | None) -> dict[str, dict]:
        if point is None:
            return {}
        if point.source == "ci":
            return {
                case: {
                    "case_id": case,
                    "status": row["status"],
                    "score": row["score"],
                    "noted": True,
                }
                for case, row in point.noted_cases.items()
            }
        return _by_case(self.store.results_for_set(point.set_key))

    def diff(self, point: CommitPoint) -> DiffReport:
        """The commit's prompt diff against its first parent (the empty tree for a root commit)."""
        from promptvc.diff import compute_diff

        commit = point.commit
        parent = Commit(commit.parents[0]) if commit.parents else EMPTY
        old, new = self.ws.snapshot(parent), self.ws.snapshot(Commit(commit.sha))
        old_label = commit.parents[0][:7] if commit.parents else "empty tree"
        return compute_diff(
            self.ws.renderer(old),
            self.ws.renderer(new),
            self.ws.catalog(old),
            self.ws.catalog(new),
            old_label=old_label,
            new_label=commit.short,
        )

    def case_request(self, here: dict | None) -> CaseRequest | None:
        """The case's variables and the request that produced its output here, from the store."""
        if not here or not here.get("request_key"):
            return None
        row = self.store.responses_for([here["request_key"]]).get(here["request_key"])
        if row is None:
            return None
        request = json.loads(row["request"])
        return CaseRequest(
            request.get("system") or "",
            tuple(
                (
                    m.get("role", "?"),
                    m["content"]
                    if isinstance(m.get("content"), str)
                    else json.dumps(m.get("content")),
                )
                for m in request.get("messages", [])
            ),
        )

    def safety_sets(self, point: CommitPoint) -> set[str]:
        """The ids of the commit's `kind: safety` sets (read from git; only a file that says
        "safety" somewhere is parsed, once per blob)."""
        snapshot = self.ws.snapshot(Commit(point.commit.sha))
        catalog = self.ws.catalog(snapshot)
        found = set()
        for path in catalog.paths:
            if "safety" not in snapshot.read_text(path):
                continue
            try:
                golden = catalog.load(path)
            except UserError:
                continue  # a set that does not parse has no kind to show
            if golden.safety:
                found.add(golden.id)
        return found

    def case_vars(self, point: CommitPoint, set_id: str, case_id: str) -> dict | None:
        """The case's variables as its golden set gives them at this commit (read from git)."""
        catalog = self.ws.catalog(self.ws.snapshot(Commit(point.commit.sha)))
        path = catalog.ids().get(set_id)
        if path is None:
            return None
        return next((dict(c.vars) for c in catalog.load(path).cases if c.id == case_id), None)

    def promote_case(
        self, point: CommitPoint, set_id: str, case: CaseRow, *, as_failure: bool = False
    ) -> str:
        """The stored output here as a case of the set in the working tree, as `promptvc promote`
        appends a captured call (the same code): written for review, never committed. Says what
        it did."""
        from promptvc.evals.captures import CapturedCall
        from promptvc.evals.promote import promote, write_promotion
        from promptvc.git.snapshot import WORKTREE

        if case.here is None or case.here.get("output") is None:
            return (
                f"{case.case_id} has no stored output at {point.commit.short}: nothing to promote"
            )
        variables = self.case_vars(point, set_id, case.case_id) or {}
        snapshot = self.ws.snapshot(WORKTREE)
        goldens, _ = self.ws.read_goldens(snapshot)
        golden = next((g for g in goldens if g.id == set_id), None)
        if golden is None:
            return f"{set_id} is not a golden set in the working tree: nothing to promote into"
        record = {
            "model": case.here.get("model"),
            "provenance": {"commit": point.commit.sha},
        }
        call = CapturedCall(0, golden.prompt, variables, case.here["output"], record)
        promotion = promote(
            golden,
            snapshot.read_text(golden.path),
            snapshot.read_text(golden.cases_path) if golden.cases_path else None,
            [call],
            as_failure=as_failure,
        )
        if not promotion.added:
            return f"{set_id} already has a case with these variables: nothing written"
        write_promotion(self.ws.root, promotion)
        return f"added case {promotion.added[0]} to {promotion.path}: review it with git diff"

    def case_marks(self, set_id: str, case_id: str) -> list[CaseMark]:
        """The case's status at each commit that changed its set (the case view's history strip)."""
        store = Store.for_reading(self.ws.db_path)  # one connection per thread: asked from a worker
        try:
            return case_history(self.ws, store, set_id, case_id, self.rev)[1]
        finally:
            store.close()

    def label_session(
        self, point: CommitPoint, set_id: str, set_key: str | None, case_id: str
    ) -> LabelSession:
        """Labelling a set's outputs at a commit (its results under `set_key`), `case_id` first."""
        from promptvc.labelling import LabelSession, label_work

        store = Store.for_reading(self.ws.db_path)  # one connection per thread: asked from a worker
        try:
            work = label_work(
                self.ws,
                store,
                Commit(point.commit.sha),
                set_id,
                set_key=set_key,
                first_case=case_id,
            )
        finally:
            store.close()
        return LabelSession(work, self.ws.root, self.ws.repo.user_name())

    def cost_to_evaluate(self, point: CommitPoint) -> tuple[int, float]:
        """(requests that would be sent, estimated USD) for evaluating a commit and its parent."""
        from promptvc.evaluation.both import spend

        store = Store(self.ws.db_path)  # one connection per thread: the TUI asks from a worker
        try:
            needed = spend(store, self._plans(point))
        finally:
            store.close()
        return needed.requests, needed.cost

    def _plans(self, point: CommitPoint):
        """The plans for a commit and its parent, made once (the estimate and the run share them)."""
        if point.commit.sha not in self._planned:
            from promptvc.evaluation.both import plan_both

            parent = Commit(point.commit.parents[0]) if point.commit.parents else EMPTY
            # only the latest: a plan holds rendered requests
            self._planned = {
                point.commit.sha: plan_both(self.ws, parent, Commit(point.commit.sha), scope="all")
            }
        return self._planned[point.commit.sha]

    def evaluate(self, point: CommitPoint, on_progress: Callable[[int, int], None]) -> None:
        """Evaluate a commit and its first parent (reusing everything stored). Runs in a worker thread."""
        from promptvc.evaluation.both import evaluate_both

        plans = self._plans(point)
        total = sum(len(p.jobs) for p in plans.plans)
        done = [0]

        def advance(_result):
            done[0] += 1
            on_progress(done[0], total)

        outcome = evaluate_both(self.ws, plans, command="tui", on_result=advance)
        from promptvc.evaluation.resample import record_comparisons
        from promptvc.significance import first_evidence

        policy = self.ws.settings.gate
        evidence = first_evidence(
            outcome.comparisons, policy.max_drop, policy.alpha, policy.safety_max_drop
        )
        record_comparisons(self.ws, outcome.comparisons, evidence, replace=False)


def _by_case(rows: list[dict]) -> dict[str, dict]:
    return {row["case_id"]: row for row in rows if row["sample"] == 0}


def failed_assertions(row: dict | None) -> list[str]:
    if not row or not row.get("grades"):
        return []
    return [f"✗ {g['label']}: {g['reason']}" for g in json.loads(row["grades"]) if not g["passed"]]
