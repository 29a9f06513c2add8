"""Repeated samples: how many answers a case draws (`repeat`), what counts as the case passing
over them (`pass_at`, `pass_all`), how many times the judge grades one answer (`judge_repeat`),
and how much of a case's spread is the judge's rather than the model's."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptvc.errors import UserError

if TYPE_CHECKING:
    from promptvc.evals.assertions import Grade

MAX_REPEAT = 100
MAX_JUDGE_REPEAT = 20
REPEAT_KEYS = {"repeat", "pass_at", "pass_all", "judge_repeat"}


@dataclass(frozen=True)
class PassRule:
    """What counts as a case passing over its evaluated samples: all of them (`pass_all`), at
    least k (`pass_at: k`, at most all there are), or by default at least half, rounded up."""

    at_least: int | None = None
    every: bool = False

    def needed(self, samples: int) -> int:
        if self.every:
            return samples
        if self.at_least is not None:
            return min(self.at_least, samples)
        return math.ceil(samples / 2)

    def describe(self) -> str:
        if self.every:
            return "pass_all"
        if self.at_least is not None:
            return f"pass_at {self.at_least}"
        return "at least half"


@dataclass(frozen=True)
class Repeats:
    repeat: int = 1
    rule: PassRule = field(default_factory=PassRule)
    judge_repeat: int = 1


def parse_repeats(data: dict, path: str, text: str) -> Repeats:
    """The repeat options of a golden set's mapping; a bad value is an error at its line."""

    def bad(key: str, why: str) -> UserError:
        from promptvc.yamlfile import line_of  # YAML only on the way to an error: scores load fast

        return UserError(f"{key} {why}", path=path, line=line_of(text, key))

    repeat = _whole(data, "repeat", 1, MAX_REPEAT, bad)
    judge_repeat = _whole(data, "judge_repeat", 1, MAX_JUDGE_REPEAT, bad)
    pass_all = data.get("pass_all", False)
    if not isinstance(pass_all, bool):
        raise bad("pass_all", "must be true or false")
    at_least = None
    if "pass_at" in data:
        if pass_all:
            raise bad("pass_at", "and pass_all say different things: give one of them")
        at_least = _whole(data, "pass_at", 1, repeat, bad, bound="repeat")
    return Repeats(repeat, PassRule(at_least, pass_all), judge_repeat)


def _whole(data: dict, key: str, low: int, high: int, bad, bound: str | None = None) -> int:
    value = data.get(key, low)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        upper = f"{bound} ({high})" if bound else str(high)
        raise bad(key, f"must be a whole number from {low} to {upper}, not {value!r}")
    return value


def parse_cluster(raw: dict, where: str, path: str, line: Callable[[], int | None]) -> str | None:
    """A case's `cluster:` (cases that are not independent share one): a name or a number."""
    cluster = raw.get("cluster")
    if cluster is None:
        return None
    if isinstance(cluster, bool) or not isinstance(cluster, (str, int)) or cluster == "":
        raise UserError(f"{where}: cluster must be a name, not {cluster!r}", path=path, line=line())
    return str(cluster)


# -- the judge's share of a case's spread --------------------------------------------------------


def pvariance(values: Sequence[float]) -> float:
    """The population variance in floats: `statistics.pvariance` computes it exactly in fractions,
    some 30 times slower, which a run of thousands of repeated cases would feel."""
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / len(values)


def draw_scores(grades: Sequence[Grade]) -> list[float]:
    """A sample's case score under each of the judge's draws (empty with fewer than two draws)."""
    draws = max((len(g.draws) for g in grades), default=0)
    gating = [g for g in grades if g.weight > 0]
    total = sum(g.weight for g in gating)
    if draws < 2 or not total:
        return []
    return [
        sum((g.draws[j] if g.draws else g.score) * g.weight for g in gating) / total
        for j in range(draws)
    ]


@dataclass(frozen=True)
class Variance:
    """A case's spread split in two: the judge's (within one answer) and the whole."""

    within: float  # the mean variance of the judge's draws on one answer
    total: float  # the variance of every (sample, draw) score of the case

    @property
    def judge_share(self) -> float | None:
        return min(self.within / self.total, 1.0) if self.total > 0 else None


def judge_variance(samples: Iterable[Sequence[Grade]]) -> Variance | None:
    """From each sample's grades; None when the judge drew once per answer."""
    rows = [row for row in (draw_scores(grades) for grades in samples) if row]
    if not rows:
        return None
    within = statistics.fmean(pvariance(row) for row in rows)
    return Variance(within, pvariance([s for row in rows for s in row]))


def pooled(parts: Iterable[Variance | None]) -> Variance | None:
    """A set's share: its cases' judge variance over their total variance, each case weighing the same."""
    known = [p for p in parts if p is not None]
    if not known:
        return None
    return Variance(sum(p.within for p in known), sum(p.total for p in known))
