"""How far the judge agrees with people: the figures of a calibration against human labels, the
calibrations stored per judge version, and what follows from them (a judge below `min_kappa`
is unverified; a diff that changes the judge shows its κ before and after)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from promptvc import stats
from promptvc.evals.labels import SCALE

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
