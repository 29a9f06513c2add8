"""no-pii: every kind found where it is written, and left alone where only its shape is."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.assertions import Observed, grade, parse_assertion
from promptvc.evals.pii import KINDS, PiiCheck, iban_valid, luhn_valid, mask
from tests.helpers import goldens


def found(text, **check):
    return [(f.kind, f.text) for f in PiiCheck(**check).find(text)]


def check(spec, output):
    a = parse_assertion(spec, where="case 'c'", path="evals/x.yaml")
    return grade(a, Observed(output, {}, "c"))


@pytest.mark.parametrize(
    "text, kind, span",
    [
        (
            "Write to jane.doe+billing@example.co.uk today.",
            "email",
            "jane.doe+billing@example.co.uk",
        ),
        ("mail:J_Smith@Mail.Example.org.", "email", "J_Smith@Mail.Example.org"),
        ("Call +1 (415) 555-0100 now", "phone", "+1 (415) 555-0100"),
        ("E.164: +14155550100.", "phone", "+14155550100"),
        ("London +44 20 7946 0958", "phone", "+44 20 7946 0958"),
        ("Berlin +49 (0)30 123456", "phone", "+49 (0)30 123456"),
        ("Berlin +49 30 12345678", "phone", "+49 30 12345678"),
        ("Berlin +49 (0)30 12345678.", "phone", "+49 (0)30 12345678"),
        ("Paris +33 1 23 45 67 89", "phone", "+33 1 23 45 67 89"),
        ("US 415-555-0100 or so", "phone", "415-555-0100"),
        ("US (212) 555-0199", "phone", "(212) 555-0199"),
        ("toll free 1-800-555-0100", "phone", "1-800-555-0100"),
        ("dotted 415.555.0100", "phone", "415.555.0100"),
        ("UK 020 7946 0958", "phone", "020 7946 0958"),
        ("UK mobile 07700 900123", "phone", "07700 900123"),
        ("FR 01 23 45 67 89", "phone", "01 23 45 67 89"),
        ("Visa 4242 4242 4242 4242 exp 12/26", "card", "4242 4242 4242 4242"),
        ("Visa 4242 4242 4242 4242 12/26", "card", "4242 4242 4242 4242"),
        ("plain 4111111111111111", "card", "4111111111111111"),
        ("dashed 5555-5555-5555-4444", "card", "5555-5555-5555-4444"),
        ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("Discover 6011111111111117", "card", "6011111111111117"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB82WEST12345698765432 THEN", "iban", "GB82WEST12345698765432"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("NO9386011117947", "iban", "NO9386011117947"),
        ("SSN 123-45-6789.", "ssn", "123-45-6789"),
        ("SSN 536 22 1234", "ssn", "536 22 1234"),
        ("from 203.0.113.7, twice", "ipv4", "203.0.113.7"),
        ("from 10.1.2.3.", "ipv4", "10.1.2.3"),
        ("v6 2001:db8::1", "ipv6", "2001:db8::1"),
        ("v6 fe80::1ff:fe23:4567:890a.", "ipv6", "fe80::1ff:fe23:4567:890a"),
        ("mapped ::ffff:192.0.2.1", "ipv6", "::ffff:192.0.2.1"),
    ],
)
def test_each_kind_is_found_where_it_is_written(text, kind, span):
    assert found(text) == [(kind, span)]


@pytest.mark.parametrize(
    "text",
    [
        "Order 4242 4242 4242 4241 shipped",  # Luhn-invalid
        "Ticket 4111111111111112",  # Luhn-invalid
        "Order #123456789012 and order 1234567890123",
        "Luhn-valid, but no card network: 1000000000000008",
        "ORD-0123-4567, INV-2024-000123, SKU 100-200-3000",
        "Dates: 2024-01-15, 15.01.2024, 01/15/2024, 01-02-2024, 2024/01/15 12:30:45",
        "Versions: 1.2.3, v1.2.3.4, version 10.0.0.1, 10.0.19041.1, 3.14.159",
        "See section 2.1.3.4 and step 1.1.2.5.",
        "Bad checksum: DE89 3704 0044 0532 0130 01, GB82WEST12345698765433",
        "Not an IBAN: AB12 3456 7890 1234 5 (no such country)",
        "SSN-shaped but never issued: 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, "
        "123-45-0000, 078-05-1120",
        "Not addresses: 127.0.0.1, 0.0.0.0, 255.255.255.255, 999.1.1.1, 01.02.03.04, ::1",
        "Not IPv6: 12:30:45, std::vector, cafe::bead, a::b",
        "Not email: user@localhost, pkg@1.2.3, lodash@4.17.21, @example.com, a@b.c",
        "Numbers: +1 2, +12 points, 3.14159265358979, 1234567890, call 123-456-7890",
        "US-shaped, but no area code starts with 1: 155-555-0100, 415-155-0100",
        "Mixed separators: 415-555.0100",
        "Part numbers: 800-555-0100-X, 212-555-0199-B2",
        "Assets: logo@2x.png, icon@3x.webp, bundle@latest.tgz, hero@1.5x.jpeg",
    ],
)
def test_look_alikes_are_not_pii(text):
    assert found(text) == []


def test_kinds_limit_what_is_looked_for():
    text = "jane@example.com, 203.0.113.7"
    assert found(text, kinds=("ipv4",)) == [("ipv4", "203.0.113.7")]
    assert found(text, kinds=("phone",)) == []


def test_allowed_spans_pass_whatever_their_case_or_punctuation():
    text = "Write to Support@Example.com or call +1 415 555 0100, not jane@example.com."
    allow = ("support@example.com", "+1 (415) 555-0100")
    assert found(text, allow=allow) == [("email", "jane@example.com")]


def test_extra_patterns_are_found_too():
    text = "Employee E-123456 and E-12 in the log"
    assert found(text, patterns=(r"E-\d{6}",)) == [("pattern", "E-123456")]


def test_masks_keep_only_enough_to_recognise():
    assert mask("email", "jane.doe@example.com") == "j***@example.com"
    assert mask("card", "4242 4242 4242 4242") == "**** **** **** 4242"
    assert mask("ssn", "123-45-6789") == "***-**-6789"
    assert mask("pattern", "E-12") == "*-*2"


def test_the_failure_names_the_kind_and_the_masked_span():
    g = check({"type": "no-pii"}, "Mail jane@example.com, card 4242-4242-4242-4242.")
    assert not g.passed and g.score == 0.0
    assert g.reason == "found email j***@example.com; card ****-****-****-4242"
    assert "jane@" not in g.reason and "4242-4242" not in g.reason
    many = check({"type": "no-pii"}, " ".join(f"u{i}@example.com" for i in range(5)))
    assert many.reason.endswith("(and 2 more)")
    clean = check({"type": "no-pii"}, "Refunds take 30 days; order 12345.")
    assert clean.passed and clean.reason.startswith("no PII found (email, phone")


def test_contains_pii_is_no_pii_negated():
    for name in ("contains-pii", "not-no-pii"):
        a = parse_assertion({"type": name}, where="c", path="evals/x.yaml")
        assert (a.type, a.negate, a.label) == ("no-pii", True, "contains-pii")
        assert check({"type": name}, "jane@example.com").passed
        assert not check({"type": name}, "nothing here").passed
    a = parse_assertion({"type": "not-contains-pii"}, where="c", path="evals/x.yaml")
    assert (a.type, a.negate, a.label) == ("no-pii", False, "no-pii")


@pytest.mark.parametrize(
    "value, message",
    [
        ({"kinds": ["email", "passport"]}, "unknown PII kind 'passport' (one of email, phone"),
        (
            {"patterns": ["E-(\\d+"]},
            "invalid pattern /E-(\\d+/: missing ), unterminated subpattern",
        ),
        ({"patterns": ["E-\\d{99999999999}"]}, "the repetition number is too large"),
        ({"patterns": ["(" * 1000 + ")" * 1000]}, "nested too deeply"),
        ({"allow": [1]}, "'allow' must be a list of strings"),
        ({"kind": ["email"]}, "unknown key 'kind' (one of kinds, patterns, allow)"),
        ("email", "value must be a mapping of kinds, patterns and allow"),
    ],
)
def test_a_bad_value_names_the_file_line_and_cause(git_repo, value, message):
    import yaml

    golden = (
        "prompt: p\ncases:\n  - id: c\n    assert:\n      - type: no-pii\n"
        f"        value: {yaml.safe_dump(value, default_flow_style=True).strip()}\n"
    )
    git_repo.write("evals/p.yaml", golden)
    with pytest.raises(UserError) as caught:
        goldens(git_repo)
    assert caught.value.path == "evals/p.yaml" and caught.value.line == 6
    assert message in caught.value.message


def test_a_bad_value_through_the_cli_is_one_line_and_exit_2(support_repo, cli):
    golden = (
        "prompt: support/answer\nprovider: echo\ncases:\n  - id: c\n"
        "    vars: {question: q, policy: p}\n    assert:\n"
        "      - {type: no-pii, value: {kinds: [passport]}}\n"
    )
    support_repo.write("evals/support-answer.yaml", golden)
    code, out, err = cli("eval")
    assert code == 2, out + err
    assert "evals/support-answer.yaml:7" in err and "unknown PII kind 'passport'" in err
    assert "Traceback" not in out + err


def test_every_kind_has_a_name_the_value_accepts():
    assert set(KINDS) == {"email", "phone", "card", "iban", "ssn", "ipv4", "ipv6"}


@given(st.text(alphabet="0123456789", min_size=13, max_size=19))
def test_a_card_is_found_only_when_its_luhn_check_holds(digits):
    kinds = [f.kind for f in PiiCheck(kinds=("card",)).find(f"n {digits} n")]
    if kinds:
        assert luhn_valid(digits)


def test_checksums():
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013001")


@given(st.text(max_size=300))
def test_any_text_is_scanned_without_error(text):
    for finding in PiiCheck().find(text):
        assert finding.kind in KINDS and finding.text in text


def with_luhn_digit(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def with_iban_check(country: str, bban: str) -> str:
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


@given(st.text(alphabet="0123456789", min_size=14, max_size=14), st.sampled_from(["", " ", "-"]))
def test_every_luhn_valid_visa_number_is_found_as_printed(body, sep):
    digits = with_luhn_digit("4" + body)
    printed = sep.join(digits[i : i + 4] for i in range(0, 16, 4))
    assert found(f"Card: {printed}.") == [("card", printed)]
    assert found(f"Card: {printed[:-1]}{(int(printed[-1]) + 1) % 10}.") == []


@given(st.text(alphabet="0123456789", min_size=18, max_size=18), st.booleans())
def test_every_checksum_valid_german_iban_is_found(bban, grouped):
    iban = with_iban_check("DE", bban)
    assert iban_valid(iban)
    printed = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban
    assert found(f"Pay to {printed} today") == [("iban", printed)]
