"""Personal data in an output: the detectors behind the `no-pii` assertion.

Precision comes before recall (a check that cries wolf gets disabled): each kind is found by a
pattern for its written shape, then kept only when it passes its own check (Luhn for cards,
mod 97 for IBANs, the issued ranges for SSNs, the address parser for IPs), so order ids, dates
and version strings are left alone. The built-in kinds are found in one pass of one compiled
pattern; the user's extra patterns are compiled once each.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

KINDS = ("email", "phone", "card", "iban", "ssn", "ipv4", "ipv6")
VALUE_KEYS = ("kinds", "patterns", "allow")

# An email is found at its `@` (so that prose, where every letter could start a local part, is
# not tried letter by letter) and its local part read back from there.
_EMAIL = r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
_LOCAL_PART = re.compile(r"[A-Za-z0-9._%+-]+\Z")
# Written plain, or grouped as printed: fours (the last group shorter, a 19-digit card's three
# more), or Amex's and Diners' 4-6-5 and 4-6-4.
_CARD = (
    r"(?<![\w.-])(?:\d{13,19}"
    r"|\d{4}(?P<card_sep>[ -])\d{4}(?P=card_sep)\d{4}(?P=card_sep)\d{1,4}(?:(?P=card_sep)\d{1,3})?"
    r"|\d{4}[ -]\d{6}[ -]\d{4,5})(?![\w-]|\.\d)"
)
_IBAN = r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}(?![A-Za-z0-9])"
_SSN = r"(?<![\w.-])\d{3}(?P<ssn_sep>[- ])\d{2}(?P=ssn_sep)\d{4}(?![\w-]|\.\d)"
_PHONE = (
    r"(?<![\w.+/-])(?:"
    # international: +CC and groups (a German subscriber number is 8 digits), E.164 written plain
    r"\+\d{1,3}(?:\d{5,12}|(?:[ .-]?\(\d{1,4}\)\d{0,6})?(?:[ .-]\d{1,8}){1,6})"
    # North American: (415) 555-0100, 415-555-0100, 1 415 555 0100
    r"|(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    # national with a trunk 0: 020 7946 0958, 01 23 45 67 89, 030 1234567
    r"|0[1-9]\d{0,3}(?P<trunk_sep>[ -])\d{2,8}(?:(?P=trunk_sep)\d{2,8}){0,3}"
    r")(?![\w/]|\.\d|-\w)"  # 800-555-0100-X goes on: a part number
)
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"
_IPV6 = r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}(?:\.\d{1,3}){0,3}(?![\w:]|\.\d)"
_PATTERNS = {
    "email": _EMAIL,
    "iban": _IBAN,
    "ssn": _SSN,
    "card": _CARD,
    "ipv4": _IPV4,
    "phone": _PHONE,
    "ipv6": _IPV6,
}
# What every instance of a kind has somewhere (a superset of its pattern, searched in C): a kind
# the output has none of is left out of the scan, so an answer full of dates and amounts is not
# tried digit by digit for cards it cannot hold.
_SIGNS = {
    "email": re.compile("@"),
    "iban": re.compile(r"[A-Z]{2}\d\d"),
    "ssn": re.compile(r"\d{3}[- ]\d\d[- ]\d{4}"),
    "card": re.compile(r"\d{4}[ -]?\d{4}"),  # in every form: 8 digits, or two groups of 4+
    "ipv4": re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"),
    "phone": re.compile(
        r"(?=[\d+(])(?:\+\d|\(\d{3}\)|(?<![\d.])(?:\d{3}[ .-]\d{3}[ .-]\d{4}|0[1-9]\d{0,3}[ -]\d\d))"
    ),
    "ipv6": re.compile(r":[0-9A-Fa-f]{0,4}:"),
}
# The characters each kind starts with: the scanner skips every other position in C, without
# trying each kind's pattern there.
_FIRST = {
    "email": "@",
    "iban": "A-Z",
    "ssn": r"\d",
    "card": r"\d",
    "ipv4": r"\d",
    "phone": r"\d+(",
    "ipv6": "0-9A-Fa-f:",
}
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion|\bver\.?|\brelease|\bbuild)\s*\Z")

# IBAN lengths by country (the SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS, or "pattern" for the user's own
    text: str

    @property
    def masked(self) -> str:
        return mask(self.kind, self.text)


@dataclass(frozen=True)
class PiiCheck:
    """What a `no-pii` assertion looks for: its kinds, the user's extra patterns, and the spans
    it allows (the support address the prompt is meant to give)."""

    kinds: tuple[str, ...] = KINDS
    patterns: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()

    def find(self, text: str) -> list[Finding]:
        allowed = {_allow_key(a) for a in self.allow}
        found = _builtin(text, self.kinds) + [
            Finding("pattern", m[0])
            for p in self.patterns
            for m in _compiled(p).finditer(text)
            if m[0]
        ]
        return [f for f in found if _allow_key(f.text) not in allowed]


def parse_pii_value(value: Any) -> PiiCheck:
    """The check a `no-pii` value asks for; ValueError with the reason when it is not one."""
    if value is None:
        return PiiCheck()
    if not isinstance(value, dict):
        raise ValueError("value must be a mapping of kinds, patterns and allow (or left out)")
    unknown = sorted(str(k) for k in set(value) - set(VALUE_KEYS))
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (one of {', '.join(VALUE_KEYS)})")
    kinds = _strings(value.get("kinds", list(KINDS)), "kinds")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown PII kind '{bad[0]}' (one of {', '.join(KINDS)})")
    patterns = _strings(value.get("patterns", []), "patterns")
    for pattern in patterns:
        try:
            _compiled(pattern)
        except (re.error, OverflowError) as exc:  # OverflowError: a repeat count past re's limit
            raise ValueError(f"invalid pattern /{pattern}/: {exc}") from None
        except RecursionError:
            raise ValueError(f"invalid pattern /{pattern[:60]}…/: nested too deeply") from None
    return PiiCheck(tuple(kinds), tuple(patterns), tuple(_strings(value.get("allow", []), "allow")))


def _strings(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return value


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.lru_cache(maxsize=256)
def _scanner(kinds: frozenset[str]) -> re.Pattern[str]:
    first = "".join(sorted({_FIRST[k] for k in kinds}))
    kinds_ = "|".join(f"(?P<{k}>{p})" for k, p in _PATTERNS.items() if k in kinds)
    return re.compile(f"(?=[{first}])(?:{kinds_})")


def _builtin(text: str, kinds: tuple[str, ...]) -> list[Finding]:
    present = frozenset(k for k in kinds if _SIGNS[k].search(text))
    if not present:
        return []
    found = []
    for match in _scanner(present).finditer(text):
        kind = str(match.lastgroup)  # the outermost group: each kind's own closes last
        span = _VALIDATORS[kind](text, match.start(kind), match.group(kind))
        if span:
            found.append(Finding(kind, span))
    return found


# File types, none of them a top-level domain: `logo@2x.png` names an image, not a mailbox.
_FILE_SUFFIXES = frozenset(
    "png jpg jpeg gif webp svg avif heic ico bmp tif tiff pdf tgz gz js css json txt html htm "
    "yaml yml".split()
)


def _email(text: str, start: int, domain: str) -> str | None:
    local = _LOCAL_PART.search(text, max(0, start - 64), start)
    if local is None or local[0].startswith(".") or local[0].endswith("."):
        return None
    if domain.rpartition(".")[2].casefold() in _FILE_SUFFIXES:
        return None
    return local[0] + domain


# Issuer prefixes of the card networks: Visa, Mastercard (51-55 and 2221-2720), Amex, Discover,
# JCB, Diners and UnionPay. A Luhn-valid number outside them is taken for an id.
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6(?:011|5|4[4-9]|2)|35(?:2[89]|[3-8]\d)|3(?:0[0-5]|[689])")  # fmt: skip
_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]  # a digit doubled, its digits summed


def _card(_text: str, _start: int, span: str) -> str | None:
    """The card a run of digit groups starts with: a run may go on past the card (its expiry),
    so the run without its last group is tried too."""
    cut = max(span.rfind(" "), span.rfind("-"))
    for candidate in (span, span[:cut]) if cut > 0 else (span,):
        digits = candidate.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            return candidate
    return None


def luhn_valid(digits: str) -> bool:
    numbers = [int(c) for c in reversed(digits)]
    return (sum(numbers[0::2]) + sum(_DOUBLED[n] for n in numbers[1::2])) % 10 == 0


def iban_valid(compact: str) -> bool:
    """mod 97 over the IBAN with its first four characters moved to the end, letters as 10-35."""
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _iban(_text: str, _start: int, span: str) -> str | None:
    length = IBAN_LENGTHS.get(span[:2])
    compact = span.replace(" ", "")
    if length is None or len(compact) < length:
        return None
    # Read only the country's length: a code in capitals may follow the IBAN.
    kept, count = [], 0
    for char in span:
        if count == length:
            break
        kept.append(char)
        count += char != " "
    candidate = "".join(kept)
    if " " in candidate and not re.fullmatch(r"[A-Z0-9]{4}(?: [A-Z0-9]{1,4})+", candidate):
        return None
    return candidate if iban_valid(compact[:length]) else None


# Never issued (or published in advertising and so nobody's): 078-05-1120 and 219-09-9999.
_SSN_NOT_ISSUED = {"078051120", "219099999"}


def _ssn(_text: str, _start: int, span: str) -> str | None:
    digits = re.sub(r"\D", "", span)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return None
    return None if digits in _SSN_NOT_ISSUED else span


def _phone(_text: str, _start: int, span: str) -> str | None:
    digits = re.sub(r"\D", "", span)
    if span.startswith("+"):
        grouped = bool(re.search(r"[ .()-]", span))
        low = 8 if grouped else 10
        return span if low <= len(digits) <= 15 else None
    if span.startswith("0"):
        return span if 9 <= len(digits) <= 12 else None
    national = digits[1:] if len(digits) == 11 else digits
    separators = set(re.findall(r"[.-]", span))
    if len(separators) > 1:  # 415-555.0100: two styles in one number is a code, not a phone
        return None
    return span if national[0] in "23456789" and national[3] in "23456789" else None


def _ipv4(text: str, start: int, span: str) -> str | None:
    parts = span.split(".")
    if any(len(part) > 1 and part.startswith("0") for part in parts):
        return None  # zero-padded parts: a version or a code
    if all(len(part) == 1 for part in parts):
        return None  # 1.2.3.4 numbers sections and versions far more often than hosts
    if _VERSION_BEFORE.search(text, max(0, start - 10), start):
        return None
    return _public_address(span)


def _ipv6(_text: str, _start: int, span: str) -> str | None:
    if not re.search(r"\d", span):  # cafe::bead is a word game, not an address
        return None
    return _public_address(span)


def _public_address(span: str) -> str | None:
    """An address that can point at someone: loopback, unspecified and broadcast ones cannot."""
    try:
        address = ipaddress.ip_address(span)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or span == "255.255.255.255":
        return None
    return span


_VALIDATORS = {
    "email": _email,
    "card": _card,
    "iban": _iban,
    "ssn": _ssn,
    "phone": _phone,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
}


def _allow_key(text: str) -> str:
    """Allowed spans compare without case or the punctuation numbers are written with."""
    return re.sub(r"[\s().-]", "", text.casefold())


def mask(kind: str, text: str) -> str:
    """A span shown in a failure without repeating it: an email keeps its first letter and its
    domain (j***@example.com); anything else its last four letters or digits."""
    if kind == "email":
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    shown = 4 if sum(c.isalnum() for c in text) > 6 else 1
    out, kept = [], 0
    for char in reversed(text):
        if char.isalnum():
            kept += 1
            out.append(char if kept <= shown else "*")
        else:
            out.append(char)
    return "".join(reversed(out))


def describe(findings: list[Finding], limit: int = 3) -> str:
    """The failure reason: each finding's kind and masked span."""
    listed = "; ".join(f"{f.kind} {f.masked}" for f in findings[:limit])
    more = len(findings) - limit
    return f"found {listed}" + (f" (and {more} more)" if more > 0 else "")
