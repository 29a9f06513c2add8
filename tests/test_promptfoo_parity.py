"""promptfoo's semantics where names overlap: the comma-separated values of contains-any and
friends, and JSON Schema `format` checked as ajv with ajv-formats checks it."""

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.assertions import Observed, grade, parse_assertion, parse_comma_separated
from promptvc.evals.formats import KNOWN_FORMATS, is_date, is_date_time, is_time, unknown_formats


def check(spec, output):
    a = parse_assertion(spec, where="case 'c'", path="evals/x.yaml")
    return grade(a, Observed(output, {}, "c")).passed


@pytest.mark.parametrize(
    "text, items",
    [
        ("", []),
        ("   ", []),
        ('"hello, world",foo', ["hello, world", "foo"]),
        (r'"say \"hi\"",b', ['say "hi"', "b"]),
        ('"say ""hi""",b', ['say "hi"', "b"]),
        (
            'a ""quoted"" value, plain',
            ['a ""quoted"" value', "plain"],
        ),  # quotes inside a bare item are text
        ("alpha, , beta,, ", ["alpha", "beta"]),
        ("  spaced  ,  next  ", ["spaced", "next"]),
        ("a\t,\tb", ["a", "b"]),
        ('"trailing"   ', ["trailing"]),
        ('""', [""]),
        ('" ",x', [" ", "x"]),
        ('"a" , "b"', ["a", "b"]),
        (r'"\n",x', [r"\n", "x"]),  # a backslash escapes only a quote or a backslash
        (r'"\\",x', ["\\", "x"]),
        (",,,", []),
        ('"你好，世界",café', ["你好，世界", "café"]),
    ],
)
def test_comma_separated_values_parse_as_promptfoo_parses_them(text, items):
    assert parse_comma_separated(text) == items


@pytest.mark.parametrize(
    "value, why",
    [
        ('"a"b,c', "expected a comma after the quoted item"),
        ('"unterminated', "no closing quote"),
    ],
)
def test_a_malformed_value_is_an_error_at_load_time_not_a_silent_pass(value, why):
    with pytest.raises(UserError, match=why):
        parse_assertion(
            {"type": "contains-any", "value": value}, where="case 'c'", path="evals/x.yaml"
        )


def test_an_empty_quoted_item_is_contained_in_every_output():
    assert check({"type": "contains-all", "value": '"", "x"'}, "x")
    assert check({"type": "contains-any", "value": '""'}, "anything")
    assert not check({"type": "not-contains-any", "value": '"", "zzz"'}, "anything")
    assert check({"type": "icontains-all", "value": '"A, B", c'}, "a, b and C")


def _quote(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    st.lists(st.text(max_size=8), max_size=5),
    st.lists(st.sampled_from([",", " ,", ", ", "\t,\t", " , "]), min_size=5, max_size=5),
)
def test_property_quoted_items_round_trip(items, separators):
    text = "".join(_quote(item) + separators[i] for i, item in enumerate(items))
    assert parse_comma_separated(text) == items


_BARE = (
    st.text(alphabet=string.ascii_letters + string.digits + " .!?\"'-", min_size=1, max_size=8)
    .map(str.strip)
    .filter(lambda s: s and not s.startswith('"'))
)


@given(st.lists(_BARE, max_size=5))
def test_property_bare_items_split_on_commas_and_lose_their_edge_spaces(items):
    assert parse_comma_separated(" , ".join(f"  {item}\t" for item in items)) == items


@pytest.mark.parametrize(
    "fmt, good, bad",
    [
        (
            "date",
            ["2024-02-29", "1999-12-31"],
            ["2023-02-29", "2024-13-01", "2024-1-01", "24-01-01"],
        ),
        (
            "date-time",
            ["2024-01-01T10:00:00Z", "2024-01-01t10:00:00.5+01:00", "2016-12-31T23:59:60Z"],
            ["2024-01-01T10:00:00", "2024-01-01", "2024-01-01T25:00:00Z", "2016-12-31T22:59:60Z"],
        ),
        ("time", ["10:00:00Z", "23:59:59+05:30"], ["10:00:00", "10:00Z", "24:00:00Z"]),
        (
            "email",
            ["ada@example.com", "a.b+c@mail.example.org"],
            ["ada", "ada@", "@example.com", "a b@example.com", "ada@example"],
        ),
        (
            "uri",
            ["https://example.com/a?b=1#c", "mailto:ada@example.com", "urn:isbn:0451450523"],
            ["example.com", "/relative/path", "http://exa mple.com", "http:"],
        ),
        ("uri-reference", ["/relative/path", "#frag", "https://example.com"], ["a b"]),
        (
            "hostname",
            ["example.com", "a-b.example.org"],
            ["-bad.example.com", "a" * 64 + ".com", "exa mple.com"],
        ),
        ("ipv4", ["192.168.0.1"], ["256.1.1.1", "01.1.1.1", "1.1.1"]),
        ("ipv6", ["::1", "2001:db8::8a2e:370:7334"], ["12345::", "fe80::1%eth0"]),
        ("uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000"]),
        ("duration", ["P3Y6M4DT12H30M5S", "PT5M", "P2W"], ["P", "PT", "3 days"]),
        ("json-pointer", ["", "/a/b~0c~1d"], ["a/b", "/a~2"]),
        ("uri-template", ["https://example.com/{id}{?q,page}"], ["https://example.com/{id"]),
    ],
)
def test_json_schema_formats_are_checked_as_ajv_formats_checks_them(fmt, good, bad):
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": fmt}}}
    for value in good:
        assert check({"type": "is-json", "value": schema}, json.dumps({"v": value})), (fmt, value)
    for value in bad:
        assert not check({"type": "is-json", "value": schema}, json.dumps({"v": value})), (
            fmt,
            value,
        )
        assert not check(
            {"type": "contains-json", "value": schema}, f"Here: {json.dumps({'v': value})}"
        ), (fmt, value)


def test_a_format_applies_only_to_its_own_json_type():
    assert check({"type": "is-json", "value": {"format": "email"}}, "42")
    assert check({"type": "is-json", "value": {"format": "int32"}}, '"not a number"')
    assert not check({"type": "is-json", "value": {"format": "int32"}}, str(2**31))


def test_an_unknown_format_is_an_error_with_a_suggestion():
    with pytest.raises(UserError, match="unknown format 'datetime'.*did you mean 'date-time'"):
        parse_assertion(
            {"type": "is-json", "value": {"properties": {"at": {"format": "datetime"}}}},
            where="case 'c'",
            path="evals/x.yaml",
        )
    # A property that happens to be called "format" is not a format keyword.
    assert unknown_formats({"properties": {"format": {"type": "string"}}}) == []
    assert {"date", "date-time", "email", "uri", "uuid", "hostname"} <= KNOWN_FORMATS


@given(st.integers(1, 9999), st.integers(1, 12), st.integers(1, 31))
def test_property_dates_agree_with_the_calendar(year, month, day):
    import datetime

    try:
        datetime.date(year, month, day)
        real = True
    except ValueError:
        real = False
    assert is_date(f"{year:04d}-{month:02d}-{day:02d}") == real


@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["Z", "+01:00", "-08:00", "+0530"]),
)
def test_property_valid_times_pass_with_a_zone_and_fail_without(hour, minute, second, zone):
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    assert is_time(text + zone) and not is_time(text)
    assert is_date_time(f"2024-05-06T{text}{zone}") and is_date_time(f"2024-05-06 {text}{zone}")
