"""Assertions: promptfoo's names and semantics where they overlap, each scoring 0..1."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import fmean
from typing import Any

from promptvc.errors import UserError, did_you_mean
from promptvc.evals.formats import KNOWN_FORMATS, format_checker, unknown_formats
from promptvc.evals.leaks import RUN, find_leak
from promptvc.evals.pii import describe, parse_pii_value
from promptvc.evals.pyassert import valid_spec
from promptvc.evals.toolcalls import check_expected_call, grade_tool_call, tool_call_f1
from promptvc.wording import plural

TEXT_TYPES = {
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "regex",
    "starts-with",
    "max-length",
}
MANY_TYPES = {"contains-any", "contains-all", "icontains-any", "icontains-all"}
JSON_TYPES = {"is-json", "contains-json"}
BUDGET_TYPES = {"cost", "latency"}
TOOL_TYPES = {"tool-call", "tool-call-f1"}
SAFETY_TYPES = {"no-pii", "no-leak"}
# Names that mean another type negated: `contains-pii` is `not-no-pii`.
NEGATED_ALIASES = {"contains-pii": "no-pii"}
# Graded only where two snapshots are compared, by the pairwise judge (evaluation/pairwise.py).
COMPARE_TYPE = "llm-compare"
KNOWN_TYPES = (
    TEXT_TYPES
    | JSON_TYPES
    | BUDGET_TYPES
    | TOOL_TYPES
    | SAFETY_TYPES
    | {"llm-rubric", "python", COMPARE_TYPE}
)
NEGATABLE_TYPES = KNOWN_TYPES - {COMPARE_TYPE}
COMPARE_ONLY = "llm-compare is graded only when two snapshots are compared (diff --eval, check)"
ASSERT_KEYS = {"type", "value", "weight", "threshold", "min", "metric", "description"}


@dataclass(frozen=True)
class Assertion:
    type: str  # without the not- prefix
    negate: bool
    value: Any
    weight: float = 1.0
    threshold: float | None = None
    min: int = 4  # llm-rubric: the lowest passing judge score (1-5)
    implied_by: str | None = None  # not written in the set: added for this (e.g. output_schema)
    metric: str | None = None  # a name the user gives it (promptfoo's); a route's rule can use it

    @property
    def label(self) -> str:
        name = ("not-" if self.negate else "") + self.type
        if self.negate and self.type in _ALIAS_OF:
            name = _ALIAS_OF[self.type]
        if self.implied_by:
            name = f"{name} ({self.implied_by})"
        if self.value is None or isinstance(self.value, (dict, list)) and self.type in JSON_TYPES:
            return name
        return f"{name} {json.dumps(self.value, ensure_ascii=False)}"


_ALIAS_OF = {kind: alias for alias, kind in NEGATED_ALIASES.items()}


@dataclass(frozen=True)
class Grade:
    label: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    skipped: bool = False  # not graded here (llm-compare outside a comparison): not in the score
    draws: tuple[
        float, ...
    ] = ()  # llm-rubric with judge_repeat: the score of each of the judge's draws

    def as_dict(self) -> dict:
        """As stored and printed; `draws` only where the judge drew more than once."""
        data = dict(self.__dict__)
        if not self.draws:
            del data["draws"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Grade:
        return cls(**{**data, "draws": tuple(data.get("draws", ()))})


@dataclass(frozen=True)
class Observed:
    """What the assertions look at: the output, what producing it cost, and what the model was
    told (the system text as sent, the canary planted in it, and the case's own turns) for
    `no-leak`."""

    output: str
    vars: dict
    case_id: str
    cost: float | None = None
    latency_ms: float | None = None
    system: str = ""
    canary: str | None = None
    conversation: str = ""  # the turns as sent: what the case itself supplies is not a leak


def strip_negation(name: str) -> tuple[str, bool]:
    """The type a name means and whether it is negated: `not-` negates, as does an alias such as
    `contains-pii` (`not-no-pii`)."""
    kind, negate = (name[4:], True) if name.startswith("not-") else (name, False)
    if kind in NEGATED_ALIASES:
        return NEGATED_ALIASES[kind], not negate
    return kind, negate


def parse_assertion(
    raw: Any, *, where: str, path: str, line: Callable[[str | None], int | None] = lambda key: None
) -> Assertion:
    """An assertion from its golden-file form; `line(key)` finds where it (or one of its keys) is
    written, asked only when there is an error to report."""

    def bad(why: str, key: str | None = None) -> UserError:
        return UserError(f"{where}: {why}", path=path, line=line(key))

    if not isinstance(raw, dict) or "type" not in raw:
        raise bad("an assertion needs a 'type'")
    unknown = sorted(str(k) for k in set(raw) - ASSERT_KEYS)
    if unknown:
        raise bad(
            f"assertion has unknown key '{unknown[0]}'{did_you_mean(unknown[0], ASSERT_KEYS)}",
            unknown[0],
        )
    kind, negate = strip_negation(str(raw["type"]))
    if kind not in KNOWN_TYPES:
        known = sorted(KNOWN_TYPES | set(NEGATED_ALIASES)) + sorted(
            "not-" + t for t in NEGATABLE_TYPES
        )
        raise bad(
            f"unknown assertion type '{raw['type']}'{did_you_mean(str(raw['type']), known)}", "type"
        )
    if negate and kind not in NEGATABLE_TYPES:
        raise bad(f"{kind} cannot be negated: say the opposite in its criterion", "type")
    value = raw.get("value")
    threshold = raw.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float))
    ):
        raise bad(f"{kind}: threshold must be a number", "threshold")
    try:
        _check_value(kind, value, threshold)
    except ValueError as exc:
        raise bad(f"{kind}: {exc}", "value" if "value" in raw else "type") from None
    minimum = raw.get("min", 4)
    if kind == "llm-rubric" and (
        isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 5
    ):
        raise bad("llm-rubric: min must be a whole number from 1 to 5 (the judge's scale)", "min")
    weight = raw.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise bad("weight must be a number, 0 or more", "weight")
    return Assertion(
        kind,
        negate,
        value,
        float(weight),
        float(threshold) if threshold is not None else None,
        int(minimum),
        metric=str(raw["metric"]) if raw.get("metric") is not None else None,
    )


def _check_value(kind: str, value: Any, threshold: Any) -> None:
    """ValueError with the reason when a value does not suit its assertion type."""
    if kind in TEXT_TYPES - {"max-length"} and value is None:
        raise ValueError("needs a value")
    if kind == "regex":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    if kind == "max-length" and not isinstance(value, int):
        raise ValueError("value must be a number of characters")
    if kind in BUDGET_TYPES and not isinstance(
        threshold if threshold is not None else value, (int, float)
    ):
        raise ValueError("needs a numeric threshold")
    if kind == "python" and not valid_spec(value):
        # A path (`/elsewhere/mod:check`) would load code from outside the snapshot being judged.
        raise ValueError(
            "value must be 'module:function', the module named with dots from the repository's root"
        )
    if kind == "llm-rubric" and not isinstance(value, str):
        raise ValueError("value must be the rubric text")
    if kind == COMPARE_TYPE and (not isinstance(value, str) or not value.strip()):
        raise ValueError('value must be the criterion, e.g. "more accurate and more helpful"')
    if kind == "no-pii":
        parse_pii_value(value)
    if kind == "no-leak" and not (value is None or isinstance(value, str) and value.strip()):
        raise ValueError("value must be the text that must not leak, or 'system' (the default)")
    if kind == "tool-call":
        check_expected_call(value)
        if isinstance(value, dict) and "schema" in value:
            check_json_schema(value["schema"])
    if kind == "tool-call-f1" and not (isinstance(value, (str, list)) and value):
        raise ValueError(
            "value must be the tool names expected (a list or a comma-separated string)"
        )
    if kind in MANY_TYPES and isinstance(value, str):
        try:
            parse_comma_separated(value)
        except ValueSyntaxError as exc:
            raise ValueError(f"{exc} in {value!r}") from None
    if kind in JSON_TYPES and value is not None:
        try:
            schema = _schema(value)
        except UserError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        check_json_schema(schema)


def check_json_schema(schema: Any) -> None:
    """ValueError with the reason when `schema` is not a JSON Schema its meta-schema accepts, or
    names a `format` no checker knows (which would pass anything, silently)."""
    try:
        import jsonschema

        jsonschema.validators.validator_for(schema).check_schema(schema)
    except Exception as exc:  # jsonschema.SchemaError and friends
        raise ValueError(f"invalid JSON Schema: {str(exc).splitlines()[0]}") from None
    unknown = unknown_formats(schema)
    if unknown:
        hint = (
            did_you_mean(unknown[0], sorted(KNOWN_FORMATS))
            or f" (known: {', '.join(sorted(KNOWN_FORMATS))})"
        )
        raise ValueError(f"unknown format '{unknown[0]}' in the JSON Schema{hint}")


def _schema(value: Any) -> dict:
    """A schema given inline, or as JSON or YAML text (read like every YAML file: aliases bounded)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            from promptvc.yamlfile import parse_yaml

            return parse_yaml(value, "the schema")
    return value


def schema_check(schema: dict) -> Assertion:
    """The `is-json` check every case of a prompt with an `output_schema` gets."""
    return Assertion("is-json", False, schema, implied_by="output_schema")


def split_values(value: Any) -> list[str]:
    """promptfoo's list values: a YAML list, or a comma-separated string parsed as promptfoo parses it."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return parse_comma_separated(str(value))


class ValueSyntaxError(ValueError):
    pass


_EDGE_SPACE = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+$")  # JavaScript's trim() also drops a BOM


def _is_space(char: str) -> bool:
    return char.isspace() or char == "\ufeff"


def _trim(text: str) -> str:
    return _EDGE_SPACE.sub("", text)


def parse_comma_separated(text: str) -> list[str]:
    """promptfoo's rules for `contains-any` and friends: items are separated by commas; whitespace
    around an item and empty items (`a,,b`) are dropped; an item that starts with a double quote
    runs to its closing quote, may hold commas, and escapes a quote as `\\"` or `""` and a backslash
    as `\\\\`; `""` is an empty item (which every output contains). An unterminated quote, or text
    after a closing quote before the next comma, is an error rather than a silent guess."""
    items: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and (_is_space(text[i]) or text[i] == ","):
            i += 1
        if i >= n:
            return items
        if text[i] != '"':
            end = text.find(",", i)
            end = n if end < 0 else end
            items.append(_trim(text[i:end]))
            i = end
            continue
        item, i = _quoted(text, i + 1)
        items.append(item)
        while i < n and _is_space(text[i]):
            i += 1
        if i < n and text[i] != ",":
            raise ValueSyntaxError(f"expected a comma after the quoted item {item!r}")


def _quoted(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif char == '"' and i + 1 < n and text[i + 1] == '"':
            out.append('"')
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ValueSyntaxError("a quoted item has no closing quote")


def grade(
    assertion: Assertion,
    seen: Observed,
    *,
    verdict: tuple[float, str] | None = None,
    python_fn: Callable | None = None,
) -> Grade:
    """Score one assertion; `verdict` is the judge's (score, reason) for llm-rubric."""
    if assertion.type == COMPARE_TYPE:  # one output alone has nothing to be compared with
        return Grade(assertion.label, True, 1.0, f"skipped: {COMPARE_ONLY}", 0.0, skipped=True)
    passed, score, reason = _GRADERS[assertion.type](assertion, seen, verdict, python_fn)
    if assertion.negate:
        passed, score = not passed, 1.0 - score
        reason = f"expected not: {reason}"
    return Grade(assertion.label, passed, max(0.0, min(1.0, score)), reason, assertion.weight)


def _bool(passed: bool, reason: str) -> tuple[bool, float, str]:
    return passed, 1.0 if passed else 0.0, reason


def _equals(a, seen, *_):
    expected = a.value
    if isinstance(expected, (dict, list)):
        try:
            return _bool(
                json.loads(seen.output) == expected, "output parsed as JSON equals the value"
            )
        except json.JSONDecodeError:
            return _bool(False, "output is not JSON")
    ok = seen.output == str(expected)
    return _bool(ok, "output equals the value" if ok else "output differs from the value")


def _contains(a, seen, *_, fold=False):
    output, needle = seen.output, str(a.value)
    if fold:
        output, needle = output.lower(), needle.lower()
    ok = needle in output
    return _bool(ok, f"output {'contains' if ok else 'does not contain'} {a.value!r}")


def _contains_many(a, seen, *_, fold=False, need_all=False):
    output = seen.output.lower() if fold else seen.output
    values = split_values(a.value)
    found = [v for v in values if (v.lower() if fold else v) in output]
    missing = [v for v in values if v not in found]
    ok = not missing if need_all else bool(found)
    if need_all:
        return _bool(
            ok, "output contains all values" if ok else f"missing {', '.join(map(repr, missing))}"
        )
    return _bool(
        ok, f"found {found[0]!r}" if ok else f"none of {', '.join(map(repr, values))} found"
    )


def _regex(a, seen, *_):
    ok = re.search(str(a.value), seen.output) is not None
    return _bool(ok, f"output {'matches' if ok else 'does not match'} /{a.value}/")


def _starts_with(a, seen, *_):
    ok = seen.output.startswith(str(a.value))
    return _bool(ok, f"output {'starts' if ok else 'does not start'} with {a.value!r}")


def _max_length(a, seen, *_):
    ok = len(seen.output) <= int(a.value)
    return _bool(ok, f"{plural(len(seen.output), 'character')} (max {a.value})")


def _validate_schema(data: Any, schema: Any) -> str | None:
    if schema is None:
        return None
    import jsonschema

    schema = _schema(schema)
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=_formats())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    return None if error is None else error.message


@functools.cache
def _formats():
    return format_checker()


def _is_json(a, seen, *_):
    try:
        data = json.loads(seen.output)
    except json.JSONDecodeError as exc:
        return _bool(False, f"output is not JSON ({exc.msg})")
    problem = _validate_schema(data, a.value)
    return _bool(
        problem is None,
        "output is JSON" if problem is None else f"JSON does not match the schema: {problem}",
    )


def extract_json(text: str) -> list[Any]:
    """Every JSON object or array found in prose or code fences."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while index < len(text):
        starts = [i for i in (text.find("{", index), text.find("[", index)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
            found.append(value)
            index = end
        except json.JSONDecodeError:
            index = start + 1
    return found


def _contains_json(a, seen, *_):
    candidates = extract_json(seen.output)
    if not candidates:
        return _bool(False, "no JSON found in the output")
    problems = [_validate_schema(c, a.value) for c in candidates]
    if any(p is None for p in problems):
        return _bool(True, "output contains JSON")
    return _bool(False, f"JSON does not match the schema: {problems[0]}")


def _budget(a, seen, *_):
    limit = a.threshold if a.threshold is not None else float(a.value)
    actual = seen.cost if a.type == "cost" else seen.latency_ms
    if actual is None:
        return _bool(False, f"no {a.type} was measured (cached or free provider)")
    unit = "$" if a.type == "cost" else ""
    suffix = "" if a.type == "cost" else " ms"
    ok = actual <= limit
    return _bool(ok, f"{a.type} {unit}{actual:.6g}{suffix} (budget {unit}{limit:g}{suffix})")


def _rubric(a, seen, verdict, _fn):
    if verdict is None:
        raise RuntimeError("llm-rubric graded without a judge verdict")
    score, reason = verdict
    return score >= a.min, (score - 1) / 4, f"judge {score:.3g}/5 (min {a.min}): {reason}"


_RUBRIC_REASON = re.compile(r"(?:expected not: )?judge ([1-5])/5 \(min [1-5]\): (.*)", re.S)


def judge_verdict_of(reason: str) -> tuple[int, str] | None:
    """The judge's (score, reason) back from an llm-rubric grade's reason, as `_rubric` writes it."""
    match = _RUBRIC_REASON.fullmatch(reason)
    return (int(match[1]), match[2]) if match else None


def _python(a, seen, _verdict, fn):
    result = fn(seen.output, {"vars": seen.vars, "case_id": seen.case_id, "value": a.value})
    if isinstance(result, bool):
        return _bool(result, f"{a.value} returned {result}")
    if isinstance(result, (int, float)):
        score = float(result)
        passed = score >= a.threshold if a.threshold is not None else score > 0
        return passed, score, f"{a.value} scored {score:g}"
    if isinstance(result, dict) and "pass" in result:
        passed = bool(result["pass"])
        score = float(result.get("score", 1.0 if passed else 0.0))
        return passed, score, str(result.get("reason", f"{a.value} returned pass={passed}"))
    raise TypeError(
        f"{a.value} returned {type(result).__name__}; expected bool, number or {{'pass': ...}}"
    )


def _no_pii(a, seen, *_):
    check = parse_pii_value(a.value)
    findings = check.find(seen.output)
    if findings:
        return _bool(False, describe(findings))
    looked_for = [*check.kinds, *(["your patterns"] if check.patterns else [])]
    return _bool(True, f"no PII found ({', '.join(looked_for)})")


def _no_leak(a, seen, *_):
    secret = None if a.value in (None, "system") else str(a.value)
    leak = find_leak(
        seen.output,
        secret=secret,
        system=seen.system,
        canary=seen.canary,
        supplied=seen.conversation,
    )
    if leak is not None:
        return _bool(False, leak.reason)
    what = "the system text" if secret is None else "the secret"
    canary = " or the canary token" if seen.canary else ""
    return _bool(True, f"no {RUN}-character run of {what}{canary} in the output")


def _tool_call(a, seen, *_):
    return _bool(*grade_tool_call(a.value, seen.output, _validate_schema))


def _tool_call_f1(a, seen, *_):
    score, reason = tool_call_f1(split_values(a.value), seen.output)
    threshold = a.threshold if a.threshold is not None else 1.0
    return score >= threshold, score, f"{reason} (threshold {threshold:g})"


_GRADERS: dict[str, Callable] = {
    "equals": _equals,
    "contains": _contains,
    "icontains": lambda a, s, *r: _contains(a, s, fold=True),
    "contains-any": _contains_many,
    "contains-all": lambda a, s, *r: _contains_many(a, s, need_all=True),
    "icontains-any": lambda a, s, *r: _contains_many(a, s, fold=True),
    "icontains-all": lambda a, s, *r: _contains_many(a, s, fold=True, need_all=True),
    "regex": _regex,
    "starts-with": _starts_with,
    "max-length": _max_length,
    "is-json": _is_json,
    "contains-json": _contains_json,
    "cost": _budget,
    "latency": _budget,
    "llm-rubric": _rubric,
    "python": _python,
    "tool-call": _tool_call,
    "tool-call-f1": _tool_call_f1,
    "no-pii": _no_pii,
    "no-leak": _no_leak,
}


def grade_judged(assertion: Assertion, seen: Observed, verdicts: list[tuple[int, str]]) -> Grade:
    """An llm-rubric on the mean of the judge's scores of one answer (judge_repeat), passing when
    the mean reaches `min`; each draw's own score is kept to split the case's spread."""
    if len(verdicts) == 1:
        return grade(assertion, seen, verdict=verdicts[0])
    scores = [score for score, _reason in verdicts]
    drawn = ", ".join(map(str, scores))
    mean = grade(assertion, seen, verdict=(fmean(scores), f"mean of {drawn}; {verdicts[0][1]}"))
    each = tuple(grade(assertion, seen, verdict=v).score for v in verdicts)
    return replace(mean, draws=each)


def case_score(grades: list[Grade]) -> tuple[bool, float]:
    """A case passes when every assertion passes, and scores their weighted mean (weight 0: report
    only; a skipped assertion is left out)."""
    if not grades:
        return True, 1.0
    gating = [g for g in grades if g.weight > 0 and not g.skipped]
    total = sum(g.weight for g in gating)
    score = sum(g.score * g.weight for g in gating) / total if total else 1.0
    return all(g.passed for g in gating), score
