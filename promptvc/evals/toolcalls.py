"""Tool calls as an output: how an answer that calls tools is stored, and the assertions on it.

An answer with tool calls is stored as canonical JSON, whatever provider carried it:
`{"text": "...", "tool_calls": [{"name": "lookup_order", "arguments": {...}}]}` (`text` only
when the model wrote some beside its calls; the calls in the order the model made them, without
the provider's call ids, which differ on every answer).

- `tool-call`: some call has the tool's name and its arguments match: a partial match
  (`arguments:` — every key given must be there with that value; others may be there too) or a
  JSON Schema (`schema:`), or only the name (`value: lookup_order`).
- `tool-call-f1`: promptfoo's: the F1 of the tool names called against the names expected
  (a list, or a comma-separated string); passes at `threshold` (default 1.0).
"""

from __future__ import annotations

import json
from typing import Any

from promptvc.wording import plural

CALL_KEYS = {"name", "arguments", "schema"}


def tool_calls_output(text: str, calls: list[tuple[str, dict]]) -> str:
    """The stored output of an answer that calls tools."""
    data: dict[str, Any] = {"tool_calls": [{"name": n, "arguments": a} for n, a in calls]}
    if text.strip():
        data["text"] = text
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def tool_calls(output: str) -> list[dict]:
    """The calls in a stored output; none when it is not an answer with tool calls."""
    try:
        data = json.loads(output)
    except (json.JSONDecodeError, RecursionError):
        return []
    calls = data.get("tool_calls") if isinstance(data, dict) else None
    if not isinstance(calls, list):
        return []
    return [c for c in calls if isinstance(c, dict) and isinstance(c.get("name"), str)]


def check_expected_call(value: Any) -> None:
    """ValueError with the reason when a `tool-call` value is not a name or {name, arguments|schema}."""
    if isinstance(value, str) and value:
        return
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ValueError("value must be a tool name, or {name, arguments} or {name, schema}")
    unknown = sorted(set(value) - CALL_KEYS)
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (known: name, arguments, schema)")
    if "arguments" in value and "schema" in value:
        raise ValueError("give arguments (a partial match) or schema, not both")
    if "arguments" in value and not isinstance(value["arguments"], dict):
        raise ValueError("arguments must be a mapping (the arguments to match)")


def mismatch(expected: Any, actual: Any, where: str = "arguments") -> str | None:
    """Why `actual` does not match `expected` partially (None when it does): every key of an
    expected mapping must match, a list matches item by item, other values are equal (1 == 1.0)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where} is {_show(actual)}, expected a mapping"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key} is missing"
            problem = mismatch(value, actual[key], f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where} is {_show(actual)}, expected {_show(expected)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = mismatch(want, got, f"{where}[{index}]")
            if problem:
                return problem
        return None
    same = expected == actual and isinstance(expected, bool) == isinstance(actual, bool)
    return None if same else f"{where} is {_show(actual)}, expected {_show(expected)}"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def grade_tool_call(value: Any, output: str, validate) -> tuple[bool, str]:
    """(passed, reason): does some call match `value`? `validate(data, schema)` gives a JSON
    Schema's complaint, or None."""
    expected = {"name": value} if isinstance(value, str) else value
    name = expected["name"]
    calls = tool_calls(output)
    if not calls:
        return False, "no tool calls in the output"
    named = [c for c in calls if c["name"] == name]
    if not named:
        called = ", ".join(dict.fromkeys(c["name"] for c in calls))
        return False, f"no call to {name} (called: {called})"
    problems = []
    for call in named:
        arguments = call.get("arguments")
        if "schema" in expected:
            problem = validate(arguments, expected["schema"])
            problem = problem and f"arguments do not match the schema: {problem}"
        else:
            problem = mismatch(expected.get("arguments", {}), arguments)
        if problem is None:
            return True, f"called {name}" + (
                " with matching arguments" if len(expected) > 1 else ""
            )
        problems.append(problem)
    return False, f"{name} called ({plural(len(named), 'time')}), but {problems[0]}"


def tool_call_f1(expected: list[str], output: str) -> tuple[float, str]:
    """(F1, reason) of the tool names called against the names expected, as promptfoo scores it."""
    called = set(c["name"] for c in tool_calls(output))
    wanted = set(expected)
    hits = len(called & wanted)
    if not called and not wanted:
        return 1.0, "no tools expected, none called"
    precision = hits / len(called) if called else 0.0
    recall = hits / len(wanted) if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    missing, extra = sorted(wanted - called), sorted(called - wanted)
    detail = "; ".join(
        part
        for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        )
        if part
    )
    return f1, f"tool-call F1 {f1:.2f}" + (f" ({detail})" if detail else "")
