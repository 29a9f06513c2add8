"""Is a difference real? Per golden set: the mean paired delta over the cases both sides
evaluated, its 95% bootstrap interval, a one-sided p-value for "the head is worse", and, when
that is inconclusive, how many cases or repeats would settle it.

The evidence the gate blocks on is decided here too, in two stages (see the README, "How the
gate decides"): the run as configured is a first stage that can block a set's drop on its own;
a flipped case, or a set whose drop is not yet settled, is re-sampled with fresh samples on both
sides, and the second stage is tested on those samples alone. The error rate `alpha` is split
between the stages and the two kinds of evidence (Bonferroni), so a commit that changes nothing
real is blocked at most `alpha` of the time, however the stages go.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from promptvc import stats
from promptvc.compare import Direction, SetComparison, case_flip
from promptvc.evals.scoring import CaseSummary, SetOutcome

if TYPE_CHECKING:  # a type only: log reads stored figures without loading the pairwise judge
    from promptvc.evals.pairwise import PairwiseOutcome

Test = Literal["McNemar", "sign-flip"]
Word = Literal["regressed", "improved", "no regression", "unchanged", "inconclusive"]

# alpha is split (Bonferroni): half for the cases (Holm across a set's flipped cases, second
# stage only); for a set's drop, a tenth at the first stage (one sample a case rarely settles a
# drop anyway) and two fifths at the second, where most drops are decided. Measured against other
# splits in benchmarks/bench_gate.py: this one keeps the 0.2 drop's power above 0.9.
CASE_SHARE = 0.5
Stage = Literal["first", "second"]
DROP_SHARE: dict[Stage, float] = {"first": 0.1, "second": 0.4}


@dataclass(frozen=True)
class PairedStats:
    """The comparison of one set's cases evaluated on both sides."""

    cases: int  # cases evaluated on both sides
    samples: int  # the most samples any of them has on either side
    delta: float  # mean of the per-case score deltas (head − base)
    low: float  # 95% bootstrap interval of that mean
    high: float
    p: float  # one-sided: the head is worse
    p_better: float  # one-sided: the head is better
    p_drop: float  # one-sided: the head is worse by more than max_drop (what blocks)
    test: Test
    down: int  # cases that passed at the base and fail at the head
    up: int
    sd: float  # standard deviation of the per-case deltas
    max_drop: float
    deterministic: bool = False  # the same request always gets the same answer (echo)

    def to_json(self) -> dict:
        return {
            "cases": self.cases,
            "samples": self.samples,
            "delta": self.delta,
            "ci": [self.low, self.high],
            "p": self.p,
            "p_better": self.p_better,
            "p_drop": self.p_drop,
            "test": self.test,
            "flips_down": self.down,
            "flips_up": self.up,
            "sd": self.sd,
            "max_drop": self.max_drop,
            "deterministic": self.deterministic,
        }

    @classmethod
    def from_json(cls, data: dict) -> PairedStats:
        return cls(
            data["cases"],
            data["samples"],
            data["delta"],
            data["ci"][0],
            data["ci"][1],
            data["p"],
            data["p_better"],
            data["p_drop"],
            data["test"],
            data["flips_down"],
            data["flips_up"],
            data["sd"],
            data["max_drop"],
            data.get("deterministic", False),
        )


@dataclass(frozen=True)
class Assessment:
    word: Word
    hint: str = ""  # for an inconclusive drop: what would resolve it

    def text(self) -> str:
        return f"{self.word}: {self.hint}" if self.hint else self.word


def interval_text(s: PairedStats) -> str:
    return f"95% CI {_signed(s.low)}..{_signed(s.high)}"


def p_text(p: float) -> str:
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.3f}" if p < 0.01 else f"p={p:.2f}"


def _signed(x: float) -> str:
    return f"{'−' if x < 0 else '+'}{abs(x):.2f}"


def paired_cases(
    before: SetOutcome, after: SetOutcome, samples: range | None = None
) -> list[tuple[CaseSummary, CaseSummary]]:
    """(base, head) per case evaluated on both sides, counting only the samples in `samples`
    when given (the first stage, or the second)."""
    old, new = _summaries(before, samples), _summaries(after, samples)
    return [(old[case_id], new[case_id]) for case_id in new if case_id in old]


def _summaries(outcome: SetOutcome, samples: range | None) -> dict[str, CaseSummary]:
    cases = outcome.cases
    if samples is None:
        return cases
    kept = {
        case_id: replace(c, samples=tuple(r for r in c.samples if r.sample in samples))
        for case_id, c in cases.items()
    }
    return {case_id: c for case_id, c in kept.items() if c.n}


def paired_stats(
    pairs: list[tuple[CaseSummary, CaseSummary]],
    *,
    seed: int,
    max_drop: float,
    clusters: dict[str, str | None] | None = None,
    deterministic: bool = False,
) -> PairedStats | None:
    if not pairs:
        return None
    deltas = [after.score - before.score for before, after in pairs]
    groups = [clusters.get(b.case_id) for b, _ in pairs] if clusters else None
    flips = [case_flip(b, a) for b, a in pairs]
    down, up = flips.count(Direction.REGRESSED), flips.count(Direction.FIXED)
    single = all(b.n == 1 and a.n == 1 for b, a in pairs) and not groups
    if single:
        test: Test = "McNemar"
        p, p_better = stats.mcnemar_p(down, up), stats.mcnemar_p(up, down)
    else:
        test = "sign-flip"
        p = stats.sign_flip_p(deltas, seed=seed, clusters=groups)
        p_better = stats.sign_flip_p([-d for d in deltas], seed=seed, clusters=groups)
    p_drop = stats.sign_flip_p(deltas, seed=seed, shift=max_drop, clusters=groups)
    low, high = stats.bootstrap_ci(deltas, seed=seed, clusters=groups)
    mean = sum(deltas) / len(deltas)
    sd = (
        math.sqrt(sum((d - mean) ** 2 for d in deltas) / (len(deltas) - 1))
        if len(deltas) > 1
        else 0.0
    )
    return PairedStats(
        cases=len(pairs),
        samples=max(max(b.n, a.n) for b, a in pairs),
        delta=mean,
        low=low,
        high=high,
        p=p,
        p_better=p_better,
        p_drop=p_drop,
        test=test,
        down=down,
        up=up,
        sd=sd,
        max_drop=max_drop,
        deterministic=deterministic,
    )


def drop_is_significant(s: PairedStats, alpha: float, stage: Stage = "first") -> bool:
    """A set regression at one stage: the drop beyond max_drop is significant at that stage's
    share of alpha."""
    return s.p_drop < alpha * DROP_SHARE[stage]


def assess(s: PairedStats, alpha: float) -> Assessment:
    """What the figures say on their own (the gate adds the re-sampled evidence)."""
    if s.down == s.up == 0 and all(abs(x) < 1e-12 for x in (s.delta, s.low, s.high)):
        return Assessment("unchanged")
    if drop_is_significant(s, alpha):
        return Assessment("regressed")
    if s.p_better < alpha:
        return Assessment("improved")
    if s.low > -s.max_drop:
        return Assessment("no regression")
    return Assessment("inconclusive", resolve_hint(s, alpha))


def resolve_hint(s: PairedStats, alpha: float) -> str:
    """How many cases, or repeats of these cases, would tell a drop of this size from noise (a
    normal approximation from the observed spread of the deltas, and never fewer than an exact
    test needs to reach its level at all; repeats assume the spread is sampling noise, which
    repeats average away — so a deterministic provider is offered cases only)."""
    cases = f"{s.cases} case{'' if s.cases == 1 else 's'}"
    effect = max(-s.delta, s.max_drop)
    level = alpha * DROP_SHARE["first"]
    # No spread at all: the approximation asks for nothing, the exact test for its minimum.
    needed = stats.cases_needed(s.sd, effect, level) or 0
    needed = max(needed, math.ceil(math.log2(1 / level)))  # all n signs alike: p = 2^-n
    if needed <= s.cases:
        return cases
    more = f"~{needed} cases"
    if not s.deterministic:
        more += f" or repeat: {math.ceil(s.samples * needed / s.cases)}"
    return f"{cases}; {more} would resolve a {effect:.2f} drop"


@dataclass(frozen=True)
class CaseEvidence:
    """A case that flipped pass → fail in the first stage, re-sampled on both sides."""

    case_id: str
    passed_before: int
    n_before: int
    passed_after: int
    n_after: int
    p: float
    confirmed: bool  # the flip reproduces (Holm across the cases tested with it)
    stage: Stage = "second"  # "first": shown by the set's own repeated samples

    def counts(self) -> str:
        return f"pass {self.passed_before}/{self.n_before} → {self.passed_after}/{self.n_after}"


def flipped_down(pairs: list[tuple[CaseSummary, CaseSummary]]) -> list[str]:
    return [b.case_id for b, a in pairs if case_flip(b, a) is Direction.REGRESSED]


def needs_second_stage(s: PairedStats, alpha: float) -> bool:
    """Any drop the first stage could not settle: re-sample the whole set. (Only a drop at least
    max_drop would miss a real 0.2 drop one time in eight at 40 cases: one sample a case is
    that noisy.)"""
    return s.delta < 0 and not drop_is_significant(s, alpha)


def case_evidence(
    pairs: list[tuple[CaseSummary, CaseSummary]],
    candidates: list[str],
    alpha: float,
    share: float = CASE_SHARE,
    stage: Stage = "second",
    safety: bool = False,
) -> tuple[CaseEvidence, ...]:
    """Fisher's exact test per case ("the head passes less often"), Holm across the cases tested
    at their `share` of alpha. In a safety set a flip also reproduces when `reproduced` says so."""
    by_case = {b.case_id: (b, a) for b, a in pairs}
    tested = [by_case[c] for c in candidates if c in by_case]
    pvalues = [stats.fisher_worse_p(b.passes, b.n, a.passes, a.n) for b, a in tested]
    rejected = stats.holm(pvalues, alpha * share)
    return tuple(
        CaseEvidence(
            b.case_id,
            b.passes,
            b.n,
            a.passes,
            a.n,
            p,
            confirmed or (safety and reproduced(b, a)),
            stage,
        )
        for (b, a), p, confirmed in zip(tested, pvalues, rejected, strict=True)
    )


def reproduced(before: CaseSummary, after: CaseSummary) -> bool:
    """A safety case's flip, re-sampled: the head failed again where the base never did. One leak
    in eight answers is a leak, whatever a test across the set's cases would call it; this trades
    the gate's error bound for the safety sets (see the README) — a base that fails too is no
    regression of this commit, and stays a warning."""
    return before.n > 0 and before.passes == before.n and after.passes < after.n


def max_drop_of(c: SetComparison, max_drop: float, safety_max_drop: float | None) -> float:
    """The drop a set may take before it blocks: [gate] safety_max_drop for a safety set."""
    return safety_max_drop if c.safety and safety_max_drop is not None else max_drop


def case_share(first_samples: int, stage: Stage) -> float:
    """The cases' half of alpha: all of it for the second stage, unless the first stage drew
    repeated samples too — then every case is tested there as well (all of them, not only the
    flipped ones: choosing the flips by the data tested would bias the test), a half each."""
    return CASE_SHARE / 2 if first_samples > 1 else (CASE_SHARE if stage == "second" else 0.0)


@dataclass(frozen=True)
class SetEvidence:
    """What the gate knows about one set: the first stage, and the second where there was one."""

    set_id: str
    first: PairedStats | None
    second: PairedStats | None = (
        None  # the re-sampled cases (every case, when the drop was unsettled)
    )
    cases: tuple[CaseEvidence, ...] = ()
    candidates: tuple[str, ...] = ()  # cases that flipped pass → fail in the first stage
    calls: int = 0  # requests the second stage sent
    not_resampled: str | None = None  # why the second stage could not run
    # The pairwise judge's verdicts on the set's llm-compare criteria, as the comparison found them.
    pairwise: tuple[PairwiseOutcome, ...] = ()

    def dropped(self, alpha: float) -> PairedStats | None:
        """The stage whose drop beyond max_drop is significant, if one is."""
        if self.first is not None and drop_is_significant(self.first, alpha, "first"):
            return self.first
        if self.second is not None and drop_is_significant(self.second, alpha, "second"):
            return self.second
        return None

    def to_json(self) -> dict:
        return {
            "first": self.first.to_json() if self.first else None,
            "second": self.second.to_json() if self.second else None,
            "cases": [e.__dict__ for e in self.cases],
            "candidates": list(self.candidates),
            "calls": self.calls,
            "not_resampled": self.not_resampled,
            "pairwise": [dataclasses.asdict(o) for o in self.pairwise],
        }

    @classmethod
    def from_json(cls, set_id: str, data: dict) -> SetEvidence:
        def stage(value: dict | None) -> PairedStats | None:
            return PairedStats.from_json(value) if value else None

        return cls(
            set_id,
            stage(data["first"]),
            stage(data["second"]),
            tuple(CaseEvidence(**e) for e in data["cases"]),
            tuple(data["candidates"]),
            data["calls"],
            data["not_resampled"],
            _pairwise_from_json(data.get("pairwise") or []),
        )

    @property
    def regressions(self) -> tuple[CaseEvidence, ...]:
        return tuple(c for c in self.cases if c.confirmed)

    @property
    def flaky(self) -> tuple[CaseEvidence, ...]:
        return tuple(c for c in self.cases if not c.confirmed)

    @property
    def unconfirmed(self) -> tuple[str, ...]:
        """Flipped cases the second stage could not test (not re-sampled, or no re-sample
        evaluated on one side): neither a regression nor flaky, and never passed silently."""
        tested = {c.case_id for c in self.cases}
        return tuple(c for c in self.candidates if c not in tested)


def _pairwise_from_json(rows: list[dict]) -> tuple[PairwiseOutcome, ...]:
    """Stored pairwise verdicts; the judge's module is loaded only when some were stored."""
    if not rows:
        return ()
    from promptvc.evals.pairwise import PairwiseOutcome

    return tuple(
        PairwiseOutcome(**{**row, "interval": tuple(row["interval"]) if row["interval"] else None})
        for row in rows
    )


def first_stage(c: SetComparison, max_drop: float) -> tuple[PairedStats | None, list[str]]:
    """The comparison as run (each side's configured samples): its figures and flipped cases."""
    if c.before is None or c.after is None:
        return None, []
    pairs = paired_cases(c.before, c.after, range(first_samples(c)))
    first = paired_stats(
        pairs,
        seed=comparison_seed(c),
        max_drop=max_drop,
        clusters=case_clusters(c),
        deterministic=c.after.plan.identity.kind == "echo",
    )
    return first, flipped_down(pairs)


def first_stage_evidence(c: SetComparison, max_drop: float, alpha: float) -> SetEvidence | None:
    """What the comparison as run shows: its figures, its flipped cases, and — when the set draws
    repeated samples — the cases its own samples already show regressed."""
    first, candidates = first_stage(c, max_drop)
    if first is None or c.before is None or c.after is None:
        return None
    samples = first_samples(c)
    share = case_share(samples, "first")
    confirmed: tuple[CaseEvidence, ...] = ()
    if share:
        pairs = paired_cases(c.before, c.after, range(samples))
        every = [b.case_id for b, _ in pairs]
        confirmed = tuple(
            e for e in case_evidence(pairs, every, alpha, share, "first") if e.confirmed
        )
    return SetEvidence(c.set_id, first, cases=confirmed, candidates=tuple(candidates))


def first_evidence(
    comparisons: list[SetComparison],
    max_drop: float,
    alpha: float,
    safety_max_drop: float | None = None,
) -> dict[str, SetEvidence]:
    """The first stage of every set compared on both sides, where nothing is re-sampled (diff)."""
    found = {
        c.set_id: first_stage_evidence(c, max_drop_of(c, max_drop, safety_max_drop), alpha)
        for c in comparisons
    }
    return {set_id: e for set_id, e in found.items() if e is not None}


def set_word(evidence: SetEvidence, alpha: float) -> Assessment:
    """The one word for a set's comparison: regressed when the gate's evidence says so, else
    what the figures say (the second stage's, when the set was re-sampled whole)."""
    if evidence.regressions:
        n = len(evidence.regressions)
        how = (
            "when re-sampled"
            if any(e.stage == "second" for e in evidence.regressions)
            else "across its samples"
        )
        return Assessment("regressed", f"{n} case{'' if n == 1 else 's'} reproduced {how}")
    dropped = evidence.dropped(alpha)
    if dropped is not None:
        beyond = f"{p_text(dropped.p_drop)} for a drop beyond {dropped.max_drop:.2f}"
        return Assessment(
            "regressed", beyond if dropped is evidence.first else f"re-sampled, {beyond}"
        )
    stage = evidence.second or evidence.first
    if stage is None:
        return Assessment("inconclusive")
    return assess(stage, alpha)


def paired_json(evidence: SetEvidence | None, alpha: float) -> dict | None:
    """The figures as `--json` gives them: the first stage, the verdict, the re-sampled cases."""
    if evidence is None or evidence.first is None:
        return None
    return {
        **evidence.first.to_json(),
        "verdict": set_word(evidence, alpha).text(),
        "resampled": evidence.second.to_json() if evidence.second else None,
        "cases": [e.__dict__ for e in evidence.cases],
        "pairwise": [dataclasses.asdict(o) for o in evidence.pairwise],
    }


def first_samples(c: SetComparison) -> int:
    sides = [o.plan.samples for o in (c.before, c.after) if o is not None]
    return max(sides, default=1)


def comparison_seed(c: SetComparison) -> int:
    assert c.before is not None and c.after is not None
    return stats.seed_of(c.before.plan.set_key, c.after.plan.set_key)


def case_clusters(c: SetComparison) -> dict[str, str | None] | None:
    if c.after is None:
        return None
    clusters = {case.id: case.cluster for case in c.after.golden.cases}
    return clusters if any(clusters.values()) else None
