"""`promptvc bisect`: the first commit between GOOD and BAD where a set's score dropped (or a case
flipped from pass to fail).

Only first-parent commits that change the set's key are candidates: a commit that leaves
everything the set depends on alone cannot change its score. A step's score comes from the
store where any command left one for that key, else from a git note (CI's run), so most steps
cost nothing; else the set (or the one case) is evaluated there, sending only what no stored
result answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from promptvc.errors import CannotEvaluate, UserError
from promptvc.evals.scoring import Status
from promptvc.git.repo import CommitInfo, history_changes
from promptvc.git.snapshot import Commit
from promptvc.history import Measured, ScoreSource, measured, set_history, set_keys_at
from promptvc.store import Store
from promptvc.workspace import Workspace


@dataclass(frozen=True)
class Step:
    commit: CommitInfo | None  # None: GOOD itself, when it changed nothing the set reads
    sha: str
    value: float | None  # the set's score, or the case's 1.0 (pass) / 0.0 (fail); None: unknown
    stored: bool  # read from the store or a note, nothing evaluated
    calls: int = 0
    cost: float = 0.0
    bad: bool | None = None
    role: str = ""  # "GOOD" or "BAD" for the two ends
    source: ScoreSource = "local"  # "ci": a stored value read from a git note


@dataclass(frozen=True)
class Bisection:
    set_id: str
    case_id: str | None
    cut: float  # a step is bad below this
    good: Step
    bad: Step
    steps: tuple[Step, ...]  # the ones visited between them, in visiting order
    candidates: int  # commits between GOOD and BAD that change the set's key
    first_bad: Step

    @property
    def calls(self) -> int:
        return sum(s.calls for s in (self.good, self.bad, *self.steps))

    @property
    def cost(self) -> float:
        return sum(s.cost for s in (self.good, self.bad, *self.steps))

    @property
    def evaluated(self) -> int:
        return sum(not s.stored for s in (self.good, self.bad, *self.steps))


@dataclass(frozen=True)
class Target:
    set_id: str
    case_id: str | None


def bisect(
    ws: Workspace,
    store: Store,
    set_name: str,
    good_rev: str,
    bad_rev: str,
    *,
    case_id: str | None = None,
    below: float | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Bisection:
    good_sha, bad_sha = ws.resolve(good_rev).sha, ws.resolve(bad_rev).sha
    set_id, changes = set_history(ws, store, set_name, bad_sha)
    target = Target(set_id, case_id)
    known = measured(ws, store)
    good_key = _key_at(ws, target, good_sha)
    candidates = _candidates(ws, target, changes, good_key, good_sha, bad_sha)
    good = _measure(ws, known, target, good_sha, good_key, None)
    bad = _measure(ws, known, target, bad_sha, candidates[-1][1], None)
    cut = _cut(target, good, bad, below, good_rev, bad_rev)
    report = on_step or (lambda step: None)
    good, bad = replace(good, bad=False, role="GOOD"), replace(bad, bad=True, role="BAD")
    report(good)
    report(bad)
    low, high = -1, len(candidates) - 1  # the index of the last known good, first known bad
    pending = list(range(len(candidates) - 1))  # the candidates not yet ruled out
    visited: list[Step] = []
    while pending:
        middle = pending[len(pending) // 2]
        commit, key = candidates[middle]
        step = _measure(ws, known, target, commit.sha, key, commit)
        if step.value is None:  # cannot be evaluated here: skipped, as `git bisect skip` does
            pending.remove(middle)
        else:
            step = replace(step, bad=step.value < cut)
            low, high = (low, middle) if step.bad else (middle, high)
            pending = [i for i in pending if low < i < high]
        visited.append(step)
        report(step)
    first_commit, first_key = candidates[high]
    first = next((s for s in visited if s.sha == first_commit.sha), None) or replace(
        bad, commit=first_commit, sha=first_commit.sha, role=""
    )
    return Bisection(set_id, case_id, cut, good, bad, tuple(visited), len(candidates), first)


def _candidates(
    ws: Workspace,
    target: Target,
    changes: list[tuple[CommitInfo, str]],
    good_key: str,
    good_sha: str,
    bad_sha: str,
) -> list[tuple[CommitInfo, str]]:
    """The commits in GOOD..BAD that change the set's key (oldest first), with the key there."""
    between = {
        c.sha
        for c, _ in history_changes(
            ws.repo, f"{good_sha}..{bad_sha}", ws.settings.watched_paths, None
        )
    }
    found: list[tuple[CommitInfo, str]] = []
    for commit, key in changes:
        if commit.sha in between and key != (found[-1][1] if found else good_key):
            found.append((commit, key))
    if not found:
        raise UserError(
            f"no commit in {good_sha[:7]}..{bad_sha[:7]} changes what golden set {target.set_id} "
            "depends on (is GOOD an ancestor of BAD?)"
        )
    return found


def _key_at(ws: Workspace, target: Target, sha: str) -> str:
    rows = set_keys_at(ws, ws.snapshot(Commit(sha)))
    key = next((r["set_key"] for r in rows if r["set_id"] == target.set_id), None)
    if key is None:
        raise UserError(f"golden set {target.set_id} does not exist at {sha[:7]}")
    return key


def _cut(
    target: Target, good: Step, bad: Step, below: float | None, good_rev: str, bad_rev: str
) -> float:
    """Where bad begins: the case fails; else --below, or halfway from GOOD's score to BAD's."""
    for step, rev in ((good, good_rev), (bad, bad_rev)):
        if step.value is None:
            raise CannotEvaluate(
                f"golden set {target.set_id} could not be evaluated at {rev} ({step.sha[:7]})"
            )
    assert good.value is not None and bad.value is not None
    if target.case_id is not None:
        if not (good.value == 1.0 and bad.value == 0.0):
            raise UserError(
                f"case {target.case_id} must pass at GOOD ({good_rev}) and fail at BAD ({bad_rev}); "
                f"it {_verdict(good.value)} at GOOD and {_verdict(bad.value)} at BAD"
            )
        return 0.5
    cut = below if below is not None else (good.value + bad.value) / 2
    if not bad.value < cut <= good.value:
        raise UserError(
            f"golden set {target.set_id} scores {good.value:.2f} at GOOD ({good_rev}) and "
            f"{bad.value:.2f} at BAD ({bad_rev}): no drop "
            + (f"across --below {below:g}" if below is not None else "to look for")
        )
    return cut


def _verdict(value: float) -> str:
    return "passes" if value == 1.0 else "fails"


def _measure(
    ws: Workspace, known: Measured, target: Target, sha: str, key: str, commit: CommitInfo | None
) -> Step:
    stored, source = _stored_value(known, target, key)
    if stored is not None:
        return Step(commit, sha, stored, stored=True, source=source)
    return _evaluate(ws, known.store, target, sha, commit)


def _stored_value(known: Measured, target: Target, key: str) -> tuple[float | None, ScoreSource]:
    if target.case_id is None:
        return known.set_score(key)
    status, source = known.case_status(key, target.case_id)
    return _case_value(status), source


def _case_value(status: Status) -> float | None:
    return {Status.PASSED: 1.0, Status.FAILED: 0.0}.get(status)


def _evaluate(
    ws: Workspace, store: Store, target: Target, sha: str, commit: CommitInfo | None
) -> Step:
    """Evaluate the set (or the one case) at a commit, reusing every stored result."""
    from promptvc.evaluation.plan import plan_eval
    from promptvc.evaluation.runner import Runner, raise_for_faults

    snapshot = ws.snapshot(Commit(sha))
    goldens = [g for g in ws.goldens(snapshot) if g.id == target.set_id]
    plan = plan_eval(
        ws.renderer(snapshot), goldens, provider=None, default_provider=ws.settings.provider
    )
    if target.case_id is not None:
        plan = replace(plan, sets=tuple(_only_case(s, target.case_id) for s in plan.sets))
    if not plan.jobs:
        return Step(commit, sha, None, stored=False)
    outcome = Runner(store, ws.settings, str(ws.root)).run(
        plan, snapshot_label=sha[:7], commit_sha=sha, command="bisect"
    )
    raise_for_faults(outcome)
    result = outcome.sets[0]
    if target.case_id is None:
        value = result.score
    else:
        summary = result.cases.get(target.case_id)
        value = None if summary is None or not summary.n else float(summary.passed)
    return Step(commit, sha, value, False, outcome.stats.calls, outcome.stats.cost)


def _only_case(set_plan, case_id: str):
    jobs = tuple(j for j in set_plan.jobs if j.case.id == case_id)
    return replace(set_plan, jobs=jobs, whole=False)
