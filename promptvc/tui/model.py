"""What the history browser shows, computed without any UI: commits with scores, a commit's
sets against its parent, a set's cases, a case's two outputs, the commit's prompt diff, and
evaluating a commit in place. The TUI gets one of these in its constructor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from promptvc.history import CommitPoint, SetPoint, history
from promptvc.git.snapshot import EMPTY
from promptvc.store import Store
from promptvc.workspace import Workspace


@dataclass(frozen=True)
class SetRow:
    set_id: str
    prompt: str
    here: SetPoint | None
    parent: SetPoint | None
    flipped: tuple[str, ...]      # "case pass→fail"

    @property
    def delta(self) -> float | None:
        if not self.here or not self.parent or self.here.score is None or self.parent.score is None:
            return None
        return self.here.score - self.parent.score

    @property
    def changed(self) -> bool:
        return (self.here and self.here.set_key) != (self.parent and self.parent.set_key)


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    here: dict | None       # the stored result row
    parent: dict | None

    @property
    def flip(self) -> str:
        a = self.parent["status"] if self.parent else None
        b = self.here["status"] if self.here else None
        if a == "passed" and b == "failed":
            return "pass→fail"
        if a == "failed" and b == "passed":
            return "fail→pass"
        return ""


class HistoryBrowser:
    def __init__(self, ws: Workspace, rev: str = "HEAD"):
        self.ws = ws
        self.rev = rev
        self.store = Store(ws.db_path)
        self._planned: dict[str, list] = {}
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
            # The same content key on both sides means the same results: no case can have flipped.
            comparable = here and parent and here.evaluated and parent.evaluated and here.set_key != parent.set_key
            flips = self.flips(here, parent) if comparable else ()
            rows.append(SetRow(set_id, (here or parent).prompt, here, parent, flips))
        rows.sort(key=lambda r: (not r.changed, not r.flipped, r.set_id))
        return rows

    def flips(self, here: SetPoint, parent: SetPoint) -> tuple[str, ...]:
        now, before = self.store.case_statuses(here.set_key), self.store.case_statuses(parent.set_key)
        flipped = []
        for case_id in sorted(now.keys() & before.keys()):
            pair = (before[case_id], now[case_id])
            if pair == ("passed", "failed"):
                flipped.append(f"{case_id} pass→fail")
            elif pair == ("failed", "passed"):
                flipped.append(f"{case_id} fail→pass")
        return tuple(sorted(flipped, key=lambda f: not f.endswith("pass→fail")))

    def case_rows(self, here: SetPoint | None, parent: SetPoint | None) -> list[CaseRow]:
        now = _by_case(self.store.results_for_set(here.set_key)) if here else {}
        before = _by_case(self.store.results_for_set(parent.set_key)) if parent else {}
        rows = [CaseRow(case_id, now.get(case_id), before.get(case_id)) for case_id in sorted(set(now) | set(before))]
        rows.sort(key=lambda r: (not r.flip, r.case_id))
        return rows

    def diff_lines(self, point: CommitPoint):
        from promptvc.views import diff as diffview
        from promptvc.commands.diff import diff_report
        commit = point.commit
        if commit.parents:
            report = diff_report(self.ws, (commit.parents[0], commit.sha), ())
        else:
            from promptvc.diff import compute_diff
            old, new = self.ws.snapshot(EMPTY), self.ws.snapshot(commit.sha)
            report = compute_diff(self.ws.renderer(old), self.ws.renderer(new), self.ws.catalog(old), self.ws.catalog(new),
                                  old_label="empty tree", new_label=commit.short)
        return diffview.report_lines(report)

    def cost_to_evaluate(self, point: CommitPoint) -> tuple[int, float]:
        """(requests that would be sent, estimated USD) for evaluating a commit and its parent."""
        from promptvc.evaluation.plan import estimate_cost
        from promptvc.evaluation.runner import jobs_to_send
        todo = jobs_to_send(self.store, [j for plan in self._plans(point) for j in plan.jobs])
        return len(todo), estimate_cost(todo)

    def _plans(self, point: CommitPoint):
        """The plans for a commit and its parent, made once (the estimate and the run share them)."""
        if point.commit.sha in self._planned:
            return self._planned[point.commit.sha]
        from promptvc.evaluation.plan import plan_eval
        plans = []
        for sha in (point.commit.sha, *point.commit.parents[:1]):
            snapshot = self.ws.snapshot(sha)
            plans.append(plan_eval(self.ws.renderer(snapshot), self.ws.goldens(snapshot), provider=None,
                                   default_provider=self.ws.settings.provider))
        self._planned = {point.commit.sha: plans}  # only the latest: a plan holds rendered requests
        return plans

    def evaluate(self, point: CommitPoint, on_progress: Callable[[int, int], None]) -> None:
        """Evaluate a commit and its first parent (reusing everything stored). Runs in a worker thread."""
        from promptvc.evaluation.runner import Runner
        store = Store(self.ws.db_path)  # one connection per thread
        plans = self._plans(point)
        total = sum(len(p.jobs) for p in plans)
        done = [0]

        def advance(_result):
            done[0] += 1
            on_progress(done[0], total)
        for plan in plans:
            runner = Runner(store, self.ws.settings, str(self.ws.root), on_result=advance)
            runner.run(plan, snapshot_label=plan.snapshot.label, commit_sha=plan.snapshot.commit, command="tui")
        store.close()


def _by_case(rows: list[dict]) -> dict[str, dict]:
    return {row["case_id"]: row for row in rows if row["sample"] == 0}


def failed_assertions(row: dict | None) -> list[str]:
    if not row or not row.get("grades"):
        return []
    return [f"✗ {g['label']}: {g['reason']}" for g in json.loads(row["grades"]) if not g["passed"]]
