"""Tool calls as outputs: how they are stored, matched partially or by schema, and scored (F1)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.assertions import Observed, grade, parse_assertion
from promptvc.evals.toolcalls import mismatch, tool_call_f1, tool_calls, tool_calls_output
from promptvc.prompts.output_schema import schema_changes

CALLS = tool_calls_output(
    "Looking it up.",
    [("lookup_order", {"order_id": "A-17", "lines": [{"sku": "x", "qty": 2}]}), ("notify", {})],
)


def check(raw: dict, output: str = CALLS):
    assertion = parse_assertion(raw, where="case 'c'", path="evals/x.yaml")
    return grade(assertion, Observed(output, {}, "c"))


def test_the_stored_form_is_canonical_and_read_back():
    assert json.loads(CALLS)["text"] == "Looking it up."
    assert tool_calls_output("", [("a", {"b": 1, "a": 2})]) == (
        '{"tool_calls":[{"arguments":{"a":2,"b":1},"name":"a"}]}'
    )
    assert [c["name"] for c in tool_calls(CALLS)] == ["lookup_order", "notify"]
    assert tool_calls("plain text") == [] and tool_calls('{"tool_calls": 3}') == []


@pytest.mark.parametrize(
    ("value", "passed", "reason"),
    [
        ("lookup_order", True, "called lookup_order"),
        (
            {"name": "lookup_order", "arguments": {"order_id": "A-17"}},
            True,
            "called lookup_order with matching arguments",
        ),
        (
            {"name": "lookup_order", "arguments": {"lines": [{"qty": 2}]}},
            True,
            "called lookup_order with matching arguments",
        ),
        (
            {"name": "lookup_order", "arguments": {"order_id": "A-18"}},
            False,
            'lookup_order called (1 time), but arguments.order_id is "A-17", expected "A-18"',
        ),
        (
            {"name": "lookup_order", "arguments": {"customer": "Ada"}},
            False,
            "lookup_order called (1 time), but arguments.customer is missing",
        ),
        ({"name": "refund"}, False, "no call to refund (called: lookup_order, notify)"),
        (
            {"name": "lookup_order", "schema": {"required": ["order_id"]}},
            True,
            "called lookup_order with matching arguments",
        ),
        (
            {"name": "notify", "schema": {"required": ["to"]}},
            False,
            "notify called (1 time), but arguments do not match the schema: 'to' is a required property",
        ),
    ],
)
def test_tool_call_matches_name_and_arguments(value, passed, reason):
    result = check({"type": "tool-call", "value": value})
    assert (result.passed, result.reason) == (passed, reason)


def test_tool_call_on_a_text_answer_fails_and_negates():
    assert (
        check({"type": "tool-call", "value": "x"}, "Sure!").reason == "no tool calls in the output"
    )
    assert check({"type": "not-tool-call", "value": "refund"}).passed


def test_tool_call_f1_follows_promptfoo():
    assert tool_call_f1(["lookup_order", "notify"], CALLS)[0] == 1.0
    score, reason = tool_call_f1(["lookup_order", "refund"], CALLS)
    assert score == pytest.approx(0.5)
    assert reason == "tool-call F1 0.50 (missing refund; unexpected notify)"
    result = check({"type": "tool-call-f1", "value": "lookup_order, refund", "threshold": 0.5})
    assert result.passed and result.score == pytest.approx(0.5)
    assert not check({"type": "tool-call-f1", "value": ["lookup_order"]}).passed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"arguments": {}}, "value must be a tool name"),
        ({"name": "a", "args": {}}, "unknown key 'args'"),
        ({"name": "a", "arguments": {}, "schema": {}}, "not both"),
        ({"name": "a", "schema": {"type": 7}}, "invalid JSON Schema"),
    ],
)
def test_a_bad_tool_call_value_is_an_error_with_its_reason(value, message):
    with pytest.raises(UserError, match=message):
        parse_assertion({"type": "tool-call", "value": value}, where="case 'c'", path="x.yaml")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(json_values)
def test_every_value_matches_itself_and_an_empty_mapping_matches_any_mapping(value):
    assert mismatch(value, value) is None
    if isinstance(value, dict):
        assert mismatch({}, value) is None


def test_true_is_not_one():
    assert mismatch(1, True) == "arguments is true, expected 1"
    assert mismatch(1, 1.0) is None


def test_schema_changes_name_every_field_that_moved():
    old = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
    }
    new = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "c": {"enum": [1, 2]}},
        "required": [],
    }
    assert [(c.kind, c.field, c.old, c.new) for c in schema_changes(old, new)] == [
        ("now optional", "a", None, None),
        ("removed", "b", "integer", None),
        ("added", "c", None, "enum"),
    ]
    assert [c.kind for c in schema_changes(old, {**old, "description": "x"})] == [
        "constraints changed"
    ]
    assert [(c.kind, c.field) for c in schema_changes(None, old)] == [
        ("added", "a"),
        ("added", "b"),
    ]
    assert schema_changes(old, old) == []
    recursive = {
        "$ref": "#/$defs/N",
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
    }
    assert schema_changes(recursive, recursive) == []
