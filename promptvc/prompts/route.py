"""A routed prompt: the tiers it tries in order (front matter `route:`) and what sends a case on
to the next one (`escalate_on:`), as a production router runs the cheap tier first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from promptvc.errors import UserError, did_you_mean
from promptvc.yamlfile import key_line

RuleKind = Literal["assert", "not-json", "judge_below", "pattern"]
RULE_KINDS: tuple[RuleKind, ...] = ("assert", "not-json", "judge_below", "pattern")


@dataclass(frozen=True)
class Rule:
    """One reason to escalate: an assertion (by type as written, or its `metric`) that failed, an
    output that is not JSON, a judge score under a bound, or a pattern the output matches."""

    kind: RuleKind
    value: str | float | bool

    def describe(self) -> str:
        if self.kind == "not-json":
            return "not JSON"
        if self.kind == "judge_below":
            return f"judge below {self.value:g}"
        if self.kind == "pattern":
            return f"matches /{self.value}/"
        return f"{self.value} failed"

    def as_front_matter(self) -> dict:
        return {self.kind: self.value}


@dataclass(frozen=True)
class Route:
    tiers: tuple[str, ...]
    rules: tuple[Rule, ...]
    line: int | None = None  # where `route:` is written, for errors found later (an unknown tier)

    @property
    def label(self) -> str:
        return "→".join(self.tiers)


def parse_route(meta: dict, front: str, path: str) -> Route | None:
    """The prompt's route, or None when it has none; a malformed one is an error at its line."""
    if "route" not in meta and "escalate_on" not in meta:
        return None
    route_line = key_line(front, "route", 2)
    rules_line = key_line(front, "escalate_on", 2)
    if "route" not in meta:
        raise UserError(
            "'escalate_on' needs a 'route' to escalate along", path=path, line=rules_line
        )
    if "tier" in meta:
        raise UserError(
            "give 'tier' or 'route', not both (a route starts at its first tier)",
            path=path,
            line=route_line,
        )
    tiers = meta["route"]
    if not (
        isinstance(tiers, list)
        and len(tiers) >= 2
        and all(isinstance(t, str) and t for t in tiers)
        and len(set(tiers)) == len(tiers)
    ):
        raise UserError(
            "'route' must list two or more different tier names, cheapest first",
            path=path,
            line=route_line,
        )
    raw = meta.get("escalate_on")
    if not isinstance(raw, list) or not raw:
        raise UserError(
            "a route needs 'escalate_on': a list of rules such as {assert: is-json}, "
            '{not-json: true}, {judge_below: 3}, {pattern: "(?i)not sure"}',
            path=path,
            line=rules_line or route_line,
        )
    try:
        rules = tuple(_rule(item) for item in raw)
    except ValueError as exc:
        raise UserError(f"escalate_on: {exc}", path=path, line=rules_line) from None
    return Route(tuple(tiers), rules, route_line)


def _rule(item: object) -> Rule:
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError(
            f"each rule is a mapping of one key ({', '.join(RULE_KINDS)}), not {item!r}"
        )
    ((kind, value),) = item.items()
    if kind == "assert":
        if not isinstance(value, str) or not value:
            raise ValueError("assert: names an assertion type or metric, e.g. {assert: is-json}")
        return Rule("assert", value)
    if kind == "not-json":
        if value is not True:
            raise ValueError("not-json takes true: {not-json: true}")
        return Rule("not-json", True)
    if kind == "judge_below":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 < value <= 5:
            raise ValueError(
                f"judge_below must be a judge score above 1 and up to 5, not {value!r}"
            )
        return Rule("judge_below", float(value))
    if kind == "pattern":
        if not isinstance(value, str) or not value:
            raise ValueError("pattern must be a regular expression")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        return Rule("pattern", value)
    raise ValueError(f"unknown rule '{kind}'{did_you_mean(str(kind), RULE_KINDS)}")


def unknown_route_tier(route: Route, tiers: dict) -> str | None:
    """Why the route cannot run with these tiers (one it names is not in tiers.yaml), or None."""
    for tier in route.tiers:
        if tier not in tiers:
            known = ", ".join(sorted(tiers)) or "none defined"
            return f"route names unknown tier '{tier}'{did_you_mean(tier, list(tiers))} (tiers: {known})"
    return None
