"""Capture files (`PROMPTVC_CAPTURE`, written by promptvc/tracing.py) read back, and `--where`
filters over their calls.

A filter is `KEY OP VALUE`, never Python: KEY is a field of the captured line, dotted into
mappings (`prompt`, `vars.question`, `provenance.commit`, `tokens.output`, `latency_ms`,
`error`); OP is `=` or `!=` (the value as text; JSON's `true`, `false`, `null` for those),
`~` or `!~` (a regular expression found, or not, anywhere in it), or `<`, `<=`, `>`, `>=` (as
numbers). A field the line lacks matches only `!=` and `!~`.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from promptvc.errors import UserError


@dataclass(frozen=True)
class CapturedCall:
    line: int
    prompt: str
    vars: dict
    output: str
    record: dict  # the whole line, for filters and for the comment a promoted case keeps


@dataclass(frozen=True)
class BadLine:
    line: int
    why: str


def read_captures(lines: Iterable[str]) -> tuple[list[CapturedCall], list[BadLine]]:
    """The calls of a capture file, and the lines that are not one (each with its reason)."""
    calls: list[CapturedCall] = []
    bad: list[BadLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            calls.append(_call(number, text))
        except ValueError as exc:
            bad.append(BadLine(number, str(exc)))
    return calls, bad


def _call(number: int, text: str) -> CapturedCall:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError("not a captured call (each line must be a JSON object)")
    if not isinstance(record.get("prompt"), str) or not record["prompt"]:
        raise ValueError("not a captured call (no 'prompt')")
    variables = record.get("vars")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise ValueError("'vars' must be an object")
    output = record.get("output")
    if output is not None and not isinstance(output, str):
        raise ValueError("'output' must be text")
    return CapturedCall(number, record["prompt"], variables, output or "", record)


Filter = Callable[[dict], bool]
_EXPRESSION = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(!=|!~|<=|>=|=|~|<|>)\s*(.*?)\s*$", re.S)
_MISSING = object()
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def parse_where(expression: str) -> Filter:
    """A `--where` expression as a test of a captured line; a malformed one is a UserError."""
    match = _EXPRESSION.fullmatch(expression)
    if not match:
        raise UserError(
            f"--where '{expression}': expected KEY=VALUE, KEY!=VALUE, KEY~REGEX, KEY!~REGEX "
            "or KEY<NUMBER (also <=, >, >=)"
        )
    key, op, wanted = match.groups()
    path = key.split(".")
    if op in ("~", "!~"):
        try:
            pattern = re.compile(wanted)
        except re.error as exc:
            raise UserError(f"--where '{expression}': invalid regular expression: {exc}") from None
        found = _found_by(path, lambda text: pattern.search(text) is not None)
        return found if op == "~" else _negated(found)
    if op in _ORDER:
        try:
            limit = float(wanted)
        except ValueError:
            raise UserError(f"--where '{expression}': '{wanted}' is not a number") from None
        return _compared_by(path, _ORDER[op], limit)
    found = _found_by(path, lambda text: text == wanted)
    return found if op == "=" else _negated(found)


def _field(record: dict, path: list[str]) -> Any:
    value: Any = record
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return _MISSING
        value = value[step]
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _found_by(path: list[str], test: Callable[[str], bool]) -> Filter:
    def found(record: dict) -> bool:
        value = _field(record, path)
        return value is not _MISSING and test(_as_text(value))

    return found


def _negated(test: Filter) -> Filter:
    return lambda record: not test(record)


def _compared_by(path: list[str], compare: Callable[[float, float], bool], limit: float) -> Filter:
    def compared(record: dict) -> bool:
        value = _field(record, path)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return compare(float(value), limit)

    return compared


def matching(calls: list[CapturedCall], expressions: Iterable[str]) -> list[CapturedCall]:
    """The calls that every `--where` expression admits."""
    filters = [parse_where(e) for e in expressions]
    return [c for c in calls if all(f(c.record) for f in filters)]
