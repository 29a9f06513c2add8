import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.assertions import (
    Observed,
    case_score,
    extract_json,
    grade,
    parse_assertion,
    split_values,
)
from promptvc.prompts.judge import parse_verdict


def check(spec, output, **kw):
    a = parse_assertion(spec, where="case 'c'", path="evals/x.yaml")
    return grade(
        a,
        Observed(output, {}, "c", kw.get("cost"), kw.get("latency")),
        verdict=kw.get("verdict"),
        python_fn=kw.get("fn"),
    )


@pytest.mark.parametrize(
    "spec, output, passed",
    [
        ({"type": "equals", "value": "Hello"}, "Hello", True),
        ({"type": "equals", "value": "Hello"}, "hello", False),
        ({"type": "equals", "value": {"a": 1}}, '{"a": 1}', True),
        ({"type": "contains", "value": "30 days"}, "within 30 days", True),
        ({"type": "contains", "value": "30 Days"}, "within 30 days", False),
        ({"type": "icontains", "value": "30 DAYS"}, "within 30 days", True),
        ({"type": "contains-any", "value": "refund, return"}, "a return", True),
        ({"type": "contains-any", "value": ["refund", "exchange"]}, "a return", False),
        ({"type": "contains-all", "value": "a,b"}, "a and b", True),
        ({"type": "contains-all", "value": "a,z"}, "a and b", False),
        ({"type": "icontains-any", "value": "REFUND"}, "refund it", True),
        ({"type": "icontains-all", "value": "A, B"}, "a b", True),
        ({"type": "regex", "value": r"\d+ days"}, "in 30 days", True),
        ({"type": "starts-with", "value": "Yes"}, "Yes, you can", True),
        ({"type": "max-length", "value": 5}, "123456", False),
        ({"type": "is-json"}, '{"a": 1}', True),
        ({"type": "is-json"}, 'Here: {"a": 1}', False),
        ({"type": "is-json", "value": {"type": "object", "required": ["name"]}}, '{"a": 1}', False),
        ({"type": "contains-json"}, 'Sure!\n```json\n{"a": [1, 2]}\n```', True),
        (
            {"type": "contains-json", "value": {"type": "object", "required": ["a"]}},
            'x {"b": 1} y {"a": 2}',
            True,
        ),
        ({"type": "contains-json"}, "no json here", False),
        ({"type": "not-contains", "value": "sorry"}, "I am sorry", False),
        ({"type": "not-regex", "value": "^I "}, "You can", True),
        ({"type": "not-is-json"}, "plain", True),
        ({"type": "cost", "threshold": 0.01}, "x", True),
        ({"type": "latency", "threshold": 100}, "x", False),
    ],
)
def test_assertions_follow_promptfoo(spec, output, passed):
    result = check(spec, output, cost=0.001, latency=250.0)
    assert result.passed is passed
    assert result.score == (1.0 if passed else 0.0)


def test_budget_without_a_measurement_fails_with_a_reason():
    result = check({"type": "latency", "threshold": 100}, "x")
    assert not result.passed and "no latency was measured" in result.reason


def test_llm_rubric_normalises_and_uses_min():
    result = check(
        {"type": "llm-rubric", "value": "cites policy", "min": 4}, "x", verdict=(3, "vague")
    )
    assert not result.passed and result.score == 0.5 and "judge 3/5" in result.reason
    assert check({"type": "llm-rubric", "value": "r"}, "x", verdict=(5, "good")).score == 1.0


def test_python_return_types():
    spec = {"type": "python", "value": "m:f"}
    assert check(spec, "x", fn=lambda o, c: True).passed
    assert check({**spec, "threshold": 0.8}, "x", fn=lambda o, c: 0.5).passed is False
    assert (
        check(spec, "x", fn=lambda o, c: {"pass": False, "score": 0.2, "reason": "meh"}).reason
        == "meh"
    )


def test_weights_and_case_score():
    a = check({"type": "contains", "value": "a", "weight": 3}, "a")
    b = check({"type": "contains", "value": "b"}, "a")
    passed, score = case_score([a, b])
    assert not passed and score == 0.75
    report_only = check({"type": "contains", "value": "b", "weight": 0}, "a")
    assert case_score([a, report_only]) == (True, 1.0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "containz", "value": "x"}, "unknown assertion type 'containz'"),
        ({"type": "regex", "value": "("}, "invalid regular expression"),
        ({"type": "contains"}, "needs a value"),
        ({"type": "python", "value": "nocolon"}, "module:function"),
        ({"type": "is-json", "value": {"type": "nonsense"}}, "invalid JSON Schema"),
        ({"value": "x"}, "needs a 'type'"),
    ],
)
def test_bad_assertions_are_input_errors(spec, message):
    with pytest.raises(UserError, match=message):
        parse_assertion(spec, where="case 'c'", path="evals/x.yaml")


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("Cites the policy.\nScore: 4", (4, "Cites the policy.")),
        ("Good.\n**Score: 5/5**", (5, "Good.")),
        ("score=2", (2, "")),
        ("Score: 9", None),
        ("I like it", None),
    ],
)
def test_judge_verdicts_parse_robustly(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_split_values_handles_quotes():
    assert split_values('a, "b, c", d') == ["a", "b, c", "d"]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=8,
    ).filter(lambda v: isinstance(v, (dict, list))),
    st.text(alphabet="abc .", max_size=10),
)
def test_property_contains_json_finds_embedded_json(value, prose):
    import json

    assert value in extract_json(f"{prose} {json.dumps(value)} {prose}")
