"""Routing in evaluation: when a tier's answer escalates to the next tier, what each tier scored
for a case, and the route beside each tier alone, so a user sees what the route saves and loses."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.evals.assertions import Assertion, Grade
from promptvc.prompts.route import Route, Rule

JUDGED = "llm-rubric"


@dataclass(frozen=True)
class TierOutcome:
    """One tier's answer to one case (sample): its score, what the answer cost, and the rule that
    sent the case on (None: the route stopped here, or the tier was graded for the report only)."""

    tier: str
    score: float | None
    passed: bool
    cost: float | None
    escalated: str | None = None
    answered: bool = True  # on the route's path (False: graded only to report the tier alone)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> TierOutcome:
        return cls(**data)


def answer_tier(outcomes: Sequence[TierOutcome]) -> str | None:
    """The tier whose answer the route gave: the last it tried."""
    answered = [o.tier for o in outcomes if o.answered]
    return answered[-1] if answered else None


def tiers_json(outcomes: Sequence[TierOutcome]) -> str | None:
    return json.dumps([o.as_dict() for o in outcomes]) if outcomes else None


def tiers_from_json(text: str | None) -> tuple[TierOutcome, ...]:
    return tuple(TierOutcome.from_dict(d) for d in json.loads(text)) if text else ()


def assertion_names(assertion: Assertion) -> set[str]:
    """What `{assert: NAME}` matches: the type as written (`not-contains`) or its metric."""
    written = ("not-" if assertion.negate else "") + assertion.type
    return {written} | ({assertion.metric} if assertion.metric else set())


def fired(
    rules: Sequence[Rule], asserts: Sequence[Assertion], grades: Sequence[Grade], output: str
) -> Rule | None:
    """The first rule that sends this answer on to the next tier, or None. `grades` are in the
    order of `asserts`, one each."""
    for rule in rules:
        if _fires(rule, asserts, grades, output):
            return rule
    return None


def _fires(rule: Rule, asserts: Sequence[Assertion], grades: Sequence[Grade], output: str) -> bool:
    if rule.kind == "not-json":
        try:
            json.loads(output)
        except ValueError:
            return True
        return False
    if rule.kind == "pattern":
        return re.search(str(rule.value), output) is not None
    pairs = list(zip(asserts, grades, strict=False))
    if rule.kind == "judge_below":
        # The grade's 0..1 score back on the judge's 1-5 scale (the mean of its draws).
        return any(
            1 + 4 * g.score < float(rule.value)
            for a, g in pairs
            if a.type == JUDGED and not g.skipped
        )
    return any(str(rule.value) in assertion_names(a) and not g.passed for a, g in pairs)


def check_rules(route: Route, asserts: Sequence[Assertion], path: str, set_id: str) -> None:
    """An `assert:` rule must name an assertion of some case, and `judge_below` needs a judged
    one: a rule that can never fire is a typo until shown otherwise."""
    names = set().union(*(assertion_names(a) for a in asserts)) if asserts else set()
    for rule in route.rules:
        if rule.kind == "assert" and rule.value not in names:
            raise UserError(
                f"escalate_on names assertion '{rule.value}', which no case of golden set "
                f"{set_id} has (its assertions: {', '.join(sorted(names)) or 'none'})",
                path=path,
                line=route.line,
            )
        if rule.kind == "judge_below" and JUDGED not in names:
            raise UserError(
                f"escalate_on has judge_below, but no case of golden set {set_id} is judged "
                "(llm-rubric)",
                path=path,
                line=route.line,
            )


@dataclass(frozen=True)
class Standing:
    """A way to answer the set (the route, or one tier alone): its mean score and model cost per
    case, over the evaluated cases; `missing` cases have no answer from it (not asked)."""

    name: str
    score: float | None
    cost: float | None
    missing: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RouteReport:
    route: Route
    cases: int  # evaluated case samples
    escalated: int  # of those, how many the route sent past its first tier
    routed: Standing
    alone: tuple[Standing, ...]

    def as_dict(self) -> dict:
        return {
            "route": list(self.route.tiers),
            "escalate_on": [r.as_front_matter() for r in self.route.rules],
            "cases": self.cases,
            "escalated": self.escalated,
            "routed": self.routed.as_dict(),
            "alone": [s.as_dict() for s in self.alone],
        }


def route_report(route: Route, results: Sequence) -> RouteReport:
    """The route against each tier alone, from the tier outcomes of evaluated results."""
    done = [r for r in results if r.evaluated and r.score is not None and r.tiers]
    routed = Standing(route.label, _mean(r.score for r in done), _mean(r.cost for r in done))
    alone = []
    for tier in route.tiers:
        outcomes = [_outcome(r.tiers, tier) for r in done]
        answered = [o for o in outcomes if o is not None and o.score is not None]
        alone.append(
            Standing(
                tier,
                _mean(o.score for o in answered) if len(answered) == len(done) else None,
                _mean(o.cost for o in answered) if len(answered) == len(done) else None,
                missing=len(done) - len(answered),
            )
        )
    escalated = sum(1 for r in done if r.tier != route.tiers[0])
    return RouteReport(route, len(done), escalated, routed, tuple(alone))


def _outcome(outcomes: Sequence[TierOutcome], tier: str) -> TierOutcome | None:
    return next((o for o in outcomes if o.tier == tier), None)


def _mean(values) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


@dataclass(frozen=True)
class RouteTally:
    """How a routed set was answered, as stored with its score: the route's tiers and how many of
    its evaluated cases went past the first (for `log` and the TUI, which do not re-run it)."""

    tiers: tuple[str, ...]
    cases: int
    escalated: int

    @property
    def text(self) -> str:
        return f"route {'→'.join(self.tiers)}: {self.escalated} of {self.cases} escalated"

    def as_dict(self) -> dict:
        return {"route": list(self.tiers), "cases": self.cases, "escalated": self.escalated}

    @classmethod
    def from_json(cls, text: str | None) -> RouteTally | None:
        """From `set_scores.route` (a RouteReport's JSON); None for a set that is not routed."""
        if not text:
            return None
        data = json.loads(text)
        return cls(tuple(data["route"]), data["cases"], data["escalated"])


def answered_by(tier: str | None, route: str | None) -> str | None:
    """A routed result's line for one case: which tier answered and why the earlier ones passed
    it on (`answered by default (fast: contains failed)`); None for a result that was not routed."""
    if not tier:
        return None
    reasons = [f"{o.tier}: {o.escalated}" for o in tiers_from_json(route) if o.escalated]
    return f"answered by {tier}" + (f" ({'; '.join(reasons)})" if reasons else "")
