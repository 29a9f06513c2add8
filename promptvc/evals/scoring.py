"""Case results and set scores: errored and skipped cases are left out of the means and counted
on their own; a set whose cases were all skipped is "not evaluated", never "passed"."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

from promptvc.clock import now
from promptvc.evals import assertions
from promptvc.evals.assertions import Grade
from promptvc.evals.repeats import PassRule, Variance, judge_variance, pooled, pvariance
from promptvc.evals.routes import (
    RouteReport,
    TierOutcome,
    route_report,
    tiers_from_json,
    tiers_json,
)
from promptvc.stats import wilson

if TYPE_CHECKING:
    from promptvc.evals.goldens import GoldenSet
    from promptvc.prompts.route import Route


class Status(StrEnum):
    """A case's or a set's result. The values are stored in SQLite and printed as they are."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the case's request or its own check failed
    SKIPPED = "skipped"  # nothing to answer from (replay without a recording)
    NOT_EVALUATED = "not evaluated"  # a set none of whose cases was evaluated


# Why a case errored. Only "unreachable" (the model could not be reached after retries) is the
# offline policy's business; "check" (the user's own python assertion or judge failed) and
# "request" (the API rejected the request the snapshot made) are failures of the snapshot.
Fault = Literal["unreachable", "check", "request"]


@dataclass(frozen=True)
class CaseResult:
    key: str
    set_id: str
    case_id: str
    sample: int
    prompt: str
    provider: str
    status: Status
    score: float | None = None
    output: str | None = None
    grades: tuple[Grade, ...] = ()
    judge_reason: str | None = None
    model: str | None = None
    request_key: str | None = None
    set_key: str | None = None
    latency_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    truncated: bool = False
    error: str | None = None
    fresh: bool = True  # produced by this run (not a stored result)
    called: bool = False  # this run sent its request to the model
    spent: float = 0.0  # what this run paid for it: the model's call and the judge's, if sent now
    fault: Fault | None = None  # for an error: whose it is
    # The answer's input tokens written to and read from the provider's prompt cache, and what
    # that saved against sending them uncached (negative while writes outweigh reads).
    cache_written: int = 0
    cache_read: int = 0
    cache_saved: float = 0.0
    tier: str | None = None  # a routed prompt's: the tier whose answer this is
    tiers: tuple[TierOutcome, ...] = ()  # a routed prompt's: what each tier it tried scored

    @property
    def evaluated(self) -> bool:
        return self.status in (Status.PASSED, Status.FAILED)

    @property
    def compare_only(self) -> bool:
        """Answered, but every assertion is llm-compare: skipped here, its output awaits a comparison."""
        return (
            self.status == Status.SKIPPED
            and self.output is not None
            and bool(self.grades)
            and all(g.skipped for g in self.grades)
        )

    @property
    def unchecked(self) -> bool:
        """Not checked for want of a model: no recording, no key, or the API unreachable."""
        return (self.status == Status.SKIPPED and not self.compare_only) or (
            self.status == Status.ERROR and self.fault == "unreachable"
        )

    @property
    def broken(self) -> bool:
        """Errored in the snapshot's own checks or request: a failure, not a missing model."""
        return self.status == Status.ERROR and self.fault != "unreachable"

    @property
    def failed_grades(self) -> list[Grade]:
        return [g for g in self.grades if not g.passed]

    @classmethod
    def of_job(
        cls, job, *, status: Status, error: str | None = None, fault: Fault | None = None
    ) -> CaseResult:
        return cls(
            job.key,
            job.golden.id,
            job.case.id,
            job.sample,
            job.golden.prompt,
            job.identity.label,
            status,
            model=job.request.model,
            request_key=job.request.key,
            set_key=job.set_key,
            error=error,
            fault=fault,
        )

    @classmethod
    def graded(
        cls,
        job,
        response,
        cost,
        grades: list[Grade],
        judge_reason: str | None,
        called: bool = False,
        judge_spent: float = 0.0,
        cache_saved: float = 0.0,
    ) -> CaseResult:
        passed, score = assertions.case_score(grades)
        status = Status.PASSED if passed else Status.FAILED
        skipped = bool(grades) and all(g.skipped for g in grades)
        return cls(
            job.key,
            job.golden.id,
            job.case.id,
            job.sample,
            job.golden.prompt,
            job.identity.label,
            Status.SKIPPED if skipped else status,
            None if skipped else score,
            response.text,
            tuple(grades),
            judge_reason,
            response.model,
            job.request.key,
            job.set_key,
            response.latency_ms,
            response.input_tokens,
            response.output_tokens,
            cost,
            response.truncated,
            error=assertions.COMPARE_ONLY if skipped else None,
            called=called,
            spent=((cost or 0.0) if called else 0.0) + judge_spent,
            cache_written=response.cache_write_tokens,
            cache_read=response.cache_read_tokens,
            cache_saved=cache_saved,
        )

    def row(self) -> dict:
        return {
            "key": self.key,
            "set_key": self.set_key,
            "set_id": self.set_id,
            "case_id": self.case_id,
            "sample": self.sample,
            "prompt": self.prompt,
            "provider": self.provider,
            "model": self.model,
            "request_key": self.request_key,
            "status": self.status,
            "score": self.score,
            "passed": int(self.status == Status.PASSED),
            "output": self.output,
            "grades": json.dumps([g.as_dict() for g in self.grades], ensure_ascii=False),
            "judge_reason": self.judge_reason,
            "latency_ms": self.latency_ms,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
            "truncated": int(self.truncated),
            "error": self.error,
            "tier": self.tier,
            "route": tiers_json(self.tiers),
            "created_at": now(),
            "cache_write_tokens": self.cache_written,
            "cache_read_tokens": self.cache_read,
            "cache_saved": self.cache_saved,
        }

    @classmethod
    def from_row(cls, row: dict, fresh: bool = False) -> CaseResult:
        grades = tuple(Grade.from_dict(g) for g in json.loads(row["grades"] or "[]"))
        return cls(
            row["key"],
            row["set_id"],
            row["case_id"],
            row["sample"],
            row["prompt"],
            row["provider"],
            Status(row["status"]),
            row["score"],
            row["output"],
            grades,
            row["judge_reason"],
            row["model"],
            row["request_key"],
            row["set_key"],
            row["latency_ms"],
            row["tokens_in"] or 0,
            row["tokens_out"] or 0,
            row["cost"],
            bool(row["truncated"]),
            row["error"],
            fresh,
            cache_written=row.get("cache_write_tokens") or 0,
            cache_read=row.get("cache_read_tokens") or 0,
            cache_saved=row.get("cache_saved") or 0.0,
            tier=row.get("tier"),
            tiers=tiers_from_json(row.get("route")),
        )


@dataclass(frozen=True)
class CaseSummary:
    """A case over its samples: what comparisons pair and what the gate tests."""

    case_id: str
    samples: tuple[CaseResult, ...]  # its evaluated samples (passed or failed)
    rule: PassRule = field(default_factory=PassRule)
    cluster: str | None = None

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def passes(self) -> int:
        return sum(r.status == Status.PASSED for r in self.samples)

    @property
    def score(self) -> float:
        return statistics.fmean(r.score or 0.0 for r in self.samples)

    @property
    def flaky(self) -> bool:
        """Its samples disagree: some passed, some failed."""
        return 0 < self.passes < self.n

    @property
    def needed(self) -> int:
        """How many of its samples must pass for the case to pass (the set's pass rule)."""
        return self.rule.needed(self.n)

    @property
    def passed(self) -> bool:
        """It passed by the set's rule (by default at least half of its samples; one: that one)."""
        return self.n > 0 and self.passes >= self.needed

    @property
    def spread(self) -> float:
        """The standard deviation of its samples' scores (0 for one sample)."""
        return math.sqrt(pvariance([r.score or 0.0 for r in self.samples]))

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of its pass rate."""
        return wilson(self.passes, self.n)

    @cached_property
    def variance(self) -> Variance | None:
        """Its spread split into the judge's and the whole (None unless the judge drew repeatedly)."""
        return judge_variance(r.grades for r in self.samples)

    @property
    def judge_share(self) -> float | None:
        return self.variance.judge_share if self.variance else None

    def row(self, set_key: str) -> dict:
        low, high = self.interval
        return {
            "set_key": set_key,
            "case_id": self.case_id,
            "cluster": self.cluster,
            "samples": self.n,
            "passes": self.passes,
            "needed": self.needed,
            "passed": int(self.passed),
            "flaky": int(self.flaky),
            "score": self.score,
            "spread": self.spread,
            "pass_low": low,
            "pass_high": high,
            "judge_share": self.judge_share,
            "created_at": now(),
        }


def summarise_cases(
    results: tuple[CaseResult, ...] | list[CaseResult],
    rule: PassRule | None = None,
    clusters: Mapping[str, str | None] | None = None,
) -> dict[str, CaseSummary]:
    """Per case, its evaluated samples (a case none of whose samples was evaluated is left out)."""
    by_case: dict[str, list[CaseResult]] = {}
    for r in results:
        if r.evaluated and r.score is not None:
            by_case.setdefault(r.case_id, []).append(r)
    return {
        case_id: CaseSummary(
            case_id,
            tuple(sorted(samples, key=lambda r: r.sample)),
            rule or PassRule(),
            (clusters or {}).get(case_id),
        )
        for case_id, samples in by_case.items()
    }


class ScoresSource(Protocol):
    """Where a set's scores come from (the provider's identity), as far as scoring needs it."""

    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def scores_key(self) -> tuple[str, str]: ...


class PlannedSet(Protocol):
    """What scoring needs of a set's plan (evaluation.plan.SetPlan), without depending on it."""

    @property
    def golden(self) -> GoldenSet: ...
    @property
    def identity(self) -> ScoresSource: ...
    @property
    def set_key(self) -> str: ...
    @property
    def temperature(self) -> float: ...
    @property
    def samples(self) -> int: ...
    @property
    def route(self) -> Route | None: ...


@dataclass(frozen=True)
class CacheFigures:
    """Input tokens written to and read from the prompt cache, and what that saved (USD)."""

    written: int = 0
    read: int = 0
    saved: float = 0.0

    @classmethod
    def of(cls, results: Iterable[CaseResult]) -> CacheFigures:
        results = list(results)
        return cls(
            sum(r.cache_written for r in results),
            sum(r.cache_read for r in results),
            sum(r.cache_saved for r in results),
        )

    def __add__(self, other: CacheFigures) -> CacheFigures:
        return CacheFigures(
            self.written + other.written, self.read + other.read, self.saved + other.saved
        )

    def __bool__(self) -> bool:
        return bool(self.written or self.read)

    def row(self) -> dict:
        return {
            "cache_write_tokens": self.written,
            "cache_read_tokens": self.read,
            "cache_saved": self.saved,
        }


@dataclass(frozen=True)
class SetOutcome:
    plan: PlannedSet
    results: tuple[CaseResult, ...]
    score: float | None
    status: Status  # passed, failed or not evaluated
    passed: int
    failed: int
    errored: int
    skipped: int
    spread: float | None  # the spread of the set's score across samples (--repeat)

    @property
    def golden(self) -> GoldenSet:
        return self.plan.golden

    @property
    def cost(self) -> float:
        """What this run paid for the set: a reused result or a replayed response costs nothing now."""
        return sum(r.spent for r in self.results if r.fresh)

    @property
    def replayed_cost(self) -> float:
        """What the responses this run did not pay for (reused, cached, replayed) would cost if sent."""
        return sum(r.cost or 0.0 for r in self.results if not (r.fresh and r.called))

    @property
    def tokens(self) -> int:
        return sum(r.tokens_in + r.tokens_out for r in self.results)

    @cached_property
    def routing(self) -> RouteReport | None:
        """A routed prompt's set: the route beside each of its tiers alone."""
        route = self.plan.route
        return route_report(route, self.results) if route else None

    @property
    def cache(self) -> CacheFigures:
        """The prompt cache's work for the answers this run paid for."""
        return CacheFigures.of(r for r in self.results if r.fresh and r.called)

    @property
    def unchecked(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.unchecked)

    @cached_property
    def cases(self) -> dict[str, CaseSummary]:
        golden = self.golden
        clusters = {c.id: c.cluster for c in golden.cases if c.cluster is not None}
        return summarise_cases(self.results, golden.pass_rule, clusters)

    @property
    def flaky(self) -> tuple[CaseSummary, ...]:
        """Cases whose samples disagree."""
        return tuple(c for c in self.cases.values() if c.flaky)

    @property
    def cases_passed(self) -> int:
        """Cases that passed by the set's rule over their samples (with one sample: `passed`)."""
        return sum(c.passed for c in self.cases.values())

    @property
    def judge_share(self) -> float | None:
        """How much of its cases' spread comes from the judge (judge_repeat > 1), pooled over cases."""
        variance = pooled(c.variance for c in self.cases.values())
        return variance.judge_share if variance else None

    def case_rows(self) -> list[dict]:
        return [c.row(self.plan.set_key) for c in self.cases.values()]

    @property
    def broken(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.broken)

    @property
    def noisy(self) -> bool:
        """One sample at temperature > 0: the score may be sampling noise."""
        return (
            self.plan.samples == 1
            and self.plan.temperature > 0
            and self.plan.identity.kind != "echo"
        )

    def row(self) -> dict:
        return {
            "set_key": self.plan.set_key,
            "set_id": self.golden.id,
            "prompt": self.golden.prompt,
            "provider": self.plan.identity.label,
            "endpoint": self.plan.identity.endpoint,
            "threshold": self.golden.threshold,
            "cases": len(self.results),
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "skipped": self.skipped,
            "score": self.score,
            "status": self.status,
            "samples": self.plan.samples,
            "temperature": self.plan.temperature,
            "cost": self.cost,
            "flaky": len(self.flaky),
            "judge_share": self.judge_share,
            "created_at": now(),
            **CacheFigures.of(self.results).row(),
            "route": json.dumps(self.routing.as_dict()) if self.routing else None,
        }


def summarise_set(plan: PlannedSet, results: list[CaseResult]) -> SetOutcome:
    """The set's score is the mean of its case scores, each case the mean of its samples."""
    scored = [(r.sample, r.score) for r in results if r.evaluated and r.score is not None]
    cases = summarise_cases(results)
    score = statistics.fmean(c.score for c in cases.values()) if cases else None
    if score is None:
        status = Status.NOT_EVALUATED
    else:
        status = Status.PASSED if score >= plan.golden.threshold - 1e-9 else Status.FAILED
    spread = None
    if plan.samples > 1 and scored:
        per_sample = [
            statistics.fmean(s for sample, s in scored if sample == n)
            for n in range(plan.samples)
            if any(sample == n for sample, _s in scored)
        ]
        spread = statistics.pstdev(per_sample) if len(per_sample) > 1 else 0.0
    return SetOutcome(
        plan,
        tuple(results),
        score,
        status,
        passed=sum(r.status == Status.PASSED for r in results),
        failed=sum(r.status == Status.FAILED for r in results),
        errored=sum(r.status == Status.ERROR for r in results),
        skipped=sum(r.status == Status.SKIPPED for r in results),
        spread=spread,
    )
