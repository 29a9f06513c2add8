"""Counts and money read the same everywhere."""

import math

from hypothesis import given
from hypothesis import strategies as st

from promptvc.wording import money, plural, signed_money


def test_plural_agrees_with_its_count():
    assert plural(1, "case") == "1 case"
    assert plural(0, "case") == "0 cases"
    assert plural(2, "golden set") == "2 golden sets"
    assert plural(1234, "token") == "1,234 tokens"


def test_money_shows_small_amounts():
    assert money(0.0001) == "$0.0001"
    assert money(0.0019) == "$0.0019"
    assert money(0.000011) == "$0.000011"
    assert money(0) == "$0.00"
    assert money(0.25) == "$0.25"
    assert money(1234.5) == "$1,234.50"
    assert signed_money(-0.0003) == "−$0.0003" and signed_money(0.0003) == "+$0.0003"


@given(st.floats(min_value=1e-12, max_value=1e6, allow_nan=False))
def test_property_a_positive_amount_never_reads_as_zero_and_stays_close(amount):
    text = money(amount)
    shown = float(text.removeprefix("$").replace(",", ""))
    assert shown > 0
    assert (
        math.isclose(shown, amount, rel_tol=0.06) or abs(shown - amount) < 0.005
    )  # 2 significant digits, or cents


def test_assertion_reasons_count_in_the_singular_too():
    from promptvc.evals.assertions import Observed, grade, parse_assertion

    a = parse_assertion({"type": "max-length", "value": 0}, where="case 'c'", path="evals/x.yaml")
    assert grade(a, Observed("a", {}, "c")).reason == "1 character (max 0)"
