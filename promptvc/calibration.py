"""How far the judge agrees with people: the figures of a calibration against human labels, the
calibrations stored per judge version, and what follows from them (a judge below `min_kappa`
is unverified; a diff that changes the judge shows its κ before and after)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptvc import stats
from promptvc.evals.goldens import GoldenCatalog
from promptvc.evals.labels import SCALE, labels_files
from promptvc.evaluation.keys import judge_key, labels_key
from promptvc.git.snapshot import INDEX, WORKTREE, Commit, Snapshot

if TYPE_CHECKING:
    from pathlib import Path

    from promptvc.evals.goldens import GoldenSet
    from promptvc.prompts.render import Renderer
    from promptvc.settings import GatePolicy, Settings
    from promptvc.store import Store

WORST_SHOWN = 5


@dataclass(frozen=True)
class Pair:
    """One label and the judge's verdict on the same (rubric, output)."""

    case: str
    rubric: str
    output: str
    human: int
    judge: int
    min: int  # the rubric's passing score in the set (its llm-rubric assertion's `min`)
    reason: str = ""

    @property
    def error(self) -> int:
        return self.judge - self.human


@dataclass(frozen=True)
class Agreement:
    n: int
    exact: float  # share of labels where the judge gave the person's score
    within_one: float
    kappa: float  # quadratically weighted Cohen's kappa on 1-5
    spearman: float
    pass_agreement: float  # pass/fail at each rubric's min
    pass_kappa: float
    mins: tuple[int, ...]  # the mins that pass/fail was taken at
    confusion: tuple[tuple[int, ...], ...]  # rows: the person's 1-5; columns: the judge's 1-5
    leniency: float  # mean of judge - person: above 0 the judge is kinder than people
    verbosity: float  # correlation of (judge - person) with the output's length
    worst: tuple[Pair, ...]  # where judge and person disagree most

    def figures(self) -> dict:
        """Everything, as stored and as `--json` prints it (NaN as null)."""
        return {
            "labels": self.n,
            "exact": _finite(self.exact),
            "within_one": _finite(self.within_one),
            "kappa": _finite(self.kappa),
            "spearman": _finite(self.spearman),
            "pass_agreement": _finite(self.pass_agreement),
            "pass_kappa": _finite(self.pass_kappa),
            "mins": list(self.mins),
            "confusion": [list(row) for row in self.confusion],
            "leniency": _finite(self.leniency),
            "verbosity": _finite(self.verbosity),
            "worst": [
                {"case": p.case, "human": p.human, "judge": p.judge, "reason": p.reason}
                for p in self.worst
            ],
        }


def agreement(pairs: Sequence[Pair]) -> Agreement:
    n = len(pairs)
    human = [p.human for p in pairs]
    judge = [p.judge for p in pairs]
    passed_by_human = [p.human >= p.min for p in pairs]
    passed_by_judge = [p.judge >= p.min for p in pairs]
    confusion = [[0] * len(SCALE) for _ in SCALE]
    for p in pairs:
        confusion[p.human - 1][p.judge - 1] += 1
    worst = sorted((p for p in pairs if p.error), key=lambda p: (-abs(p.error), p.case, p.rubric))[
        :WORST_SHOWN
    ]
    return Agreement(
        n,
        _share(p.error == 0 for p in pairs),
        _share(abs(p.error) <= 1 for p in pairs),
        stats.cohen_kappa(human, judge, SCALE, weights="quadratic"),
        stats.spearman(human, judge),
        _share(a == b for a, b in zip(passed_by_human, passed_by_judge, strict=True)),
        stats.cohen_kappa(passed_by_human, passed_by_judge, (False, True)),
        tuple(sorted({p.min for p in pairs})),
        tuple(tuple(row) for row in confusion),
        sum(p.error for p in pairs) / n if n else math.nan,
        stats.pearson([p.error for p in pairs], [len(p.output) for p in pairs]),
        tuple(worst),
    )


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else math.nan


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def kappa_text(kappa: float | None) -> str:
    return "—" if kappa is None or not math.isfinite(kappa) else f"{kappa:.2f}"


def stored_row(
    judge_key: str, labels_key: str, set_id: str, result: Agreement, extra: dict
) -> dict:
    """The `calibrations` row of one set's labels judged by one judge version."""
    from promptvc.clock import now

    figures = result.figures()
    return {
        "judge_key": judge_key,
        "labels_key": labels_key,
        "set_id": set_id,
        "labels": result.n,
        "kappa": figures["kappa"],
        "exact": figures["exact"],
        "within_one": figures["within_one"],
        "spearman": figures["spearman"],
        "pass_agreement": figures["pass_agreement"],
        "pass_kappa": figures["pass_kappa"],
        "leniency": figures["leniency"],
        "verbosity": figures["verbosity"],
        "figures": json.dumps({**figures, **extra}, ensure_ascii=False),
        "created_at": now(),
    }


# -- what stored calibrations say ---------------------------------------------------------


@dataclass(frozen=True)
class Calibrated:
    """A judge version's stored agreement with one set's labels, or None where it was never
    calibrated on them."""

    set_id: str
    labels: int  # labels in the file
    kappa: float | None
    judged: int | None  # labels the judge scored when it was calibrated (None: not calibrated)

    @property
    def known(self) -> bool:
        return self.judged is not None


def calibrations_at(store: Store | None, renderer: Renderer, evals_dir: str) -> list[Calibrated]:
    """For each labels file of the snapshot, what is stored for the snapshot's judge on it
    (nothing, without a store)."""
    snapshot = renderer.snapshot
    files = labels_files(snapshot, evals_dir)
    if not files:
        return []
    texts = {set_id: snapshot.read_text(path) for set_id, path in files.items()}
    # Labels are of a set's cases: a file whose set is gone (or that holds none) measures nothing.
    sets = GoldenCatalog(snapshot, evals_dir).ids()
    texts = {set_id: text for set_id, text in texts.items() if set_id in sets and _count(text)}
    key = judge_key(renderer)
    pairs = {set_id: (key, labels_key(text)) for set_id, text in texts.items()}
    stored = store.calibrations(pairs.values()) if store is not None else {}
    found = []
    for set_id in sorted(texts):
        row = stored.get(pairs[set_id])
        found.append(
            Calibrated(
                set_id,
                _count(texts[set_id]),
                row["kappa"] if row else None,
                row["labels"] if row else None,
            )
        )
    return found


def _count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def calibrate_command(snapshot: Snapshot) -> str:
    """The command that calibrates the judge of this snapshot ("" for the empty tree)."""
    if snapshot.where is INDEX:
        return "promptvc judge calibrate --staged"
    if isinstance(snapshot.where, Commit):
        return f"promptvc judge calibrate --rev {snapshot.where.sha[:7]}"
    return "promptvc judge calibrate" if snapshot.where is WORKTREE else ""


def judge_doubt(store: Store, renderer: Renderer, evals_dir: str, min_kappa: float) -> str | None:
    """Why the snapshot's judge is unverified, or None: it is unverified when labels exist and it
    has not been calibrated on all of them, or its κ on some set's labels is below `min_kappa`.
    Without labels there is nothing to verify it against."""
    found = calibrations_at(store, renderer, evals_dir)
    missing = [c for c in found if not c.known]
    if missing:
        return (
            f"not calibrated on the {missing[0].labels} labels of {missing[0].set_id} "
            f"(run `{calibrate_command(renderer.snapshot)}`)"
        )
    below = [c for c in found if c.kappa is None or c.kappa < min_kappa]
    if not below:
        return None
    worst = min(below, key=lambda c: -2.0 if c.kappa is None else c.kappa)
    return (
        f"κ {kappa_text(worst.kappa)} < min_kappa {min_kappa:g} "
        f"on the {worst.judged} labels of {worst.set_id}"
    )


def unverified_sets(
    store: Store, renderer: Renderer, settings: Settings, goldens: Iterable[GoldenSet]
) -> dict[str, str]:
    """{set id: why} for the sets whose llm-rubric scores come from an unverified judge
    ([judge] min_kappa; none when it is not set)."""
    judged = sorted(g.id for g in goldens if g.uses_judge)
    if settings.min_kappa is None or not judged:
        return {}
    why = judge_doubt(store, renderer, settings.evals_dir, settings.min_kappa)
    return dict.fromkeys(judged, why) if why else {}


def gate_note(unverified: dict[str, str], policy: GatePolicy) -> tuple[str, bool] | None:
    """(what the gate says, whether it blocks) about scores from an unverified judge."""
    if not unverified:
        return None
    ids = sorted(unverified)
    text = f"{', '.join(ids)}: scored by an unverified judge ({unverified[ids[0]]})"
    return text, policy.unverified_judge == "block"


@dataclass(frozen=True)
class KappaChange:
    """A judge change seen through one set's labels: its κ at both sides of a diff."""

    set_id: str
    before: Calibrated | None  # None: that side has no labels for the set
    after: Calibrated | None
    before_command: str  # what calibrates each side's judge
    after_command: str


def kappa_changes(
    db: Path, old: Renderer, new: Renderer, evals_dir: str
) -> tuple[KappaChange, ...]:
    """For a change to the judge: per labelled set, the stored κ of the old and the new judge.
    Reads the database only when it exists (a diff never creates one)."""
    from promptvc.store import Store

    store = Store.for_reading(db) if db.exists() else None
    try:
        before = {c.set_id: c for c in calibrations_at(store, old, evals_dir)}
        after = {c.set_id: c for c in calibrations_at(store, new, evals_dir)}
    finally:
        if store is not None:
            store.close()
    commands = calibrate_command(old.snapshot), calibrate_command(new.snapshot)
    return tuple(
        KappaChange(set_id, before.get(set_id), after.get(set_id), *commands)
        for set_id in sorted(before.keys() | after.keys())
    )
