"""JSON Schema `format` checks as promptfoo makes them: its validator is ajv with ajv-formats
("full" mode), so `format` is an assertion, not an annotation, and an unknown format is an error.

jsonschema's own FormatChecker checks only date, email (any "@"), ipv4, ipv6, regex and the idn
formats without optional packages (date-time and time need rfc3339-validator, uri needs rfc3987,
hostname needs fqdn, json-pointer needs jsonpointer, duration needs isoduration, uri-template
needs uri-template). These checks are pure Python and follow ajv-formats' rules instead, so no
dependency is added and a golden set means what it meant under promptfoo."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)(z|([+-])([0-9]{2})(?::?([0-9]{2}))?)?", re.I
)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_date(text: str) -> bool:
    """RFC 3339 full-date, with real month lengths (2023-02-29 is not a date)."""
    m = _DATE.fullmatch(text)
    if not m:
        return False
    year, month, day = (int(g) for g in m.groups())
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 and _leap(year) else _DAYS[month])


def is_time(text: str, *, zone_required: bool = True) -> bool:
    """RFC 3339 time; a leap second only at 23:59:60 UTC, as ajv-formats allows it."""
    m = _TIME.fullmatch(text)
    if not m:
        return False
    hour, minute, second = int(m[1]), int(m[2]), float(m[3])
    zone, sign = m[4], -1 if m[5] == "-" else 1
    zone_hour, zone_minute = int(m[6] or 0), int(m[7] or 0)
    if zone_hour > 23 or zone_minute > 59 or (zone_required and not zone):
        return False
    if hour <= 23 and minute <= 59 and second < 60:
        return True
    utc_minute = minute - zone_minute * sign
    utc_hour = hour - zone_hour * sign - (1 if utc_minute < 0 else 0)
    return utc_hour in (23, -1) and utc_minute in (59, -1) and second < 61


def is_date_time(text: str, *, zone_required: bool = True) -> bool:
    parts = re.split(r"[tT\s]", text)
    return len(parts) == 2 and is_date(parts[0]) and is_time(parts[1], zone_required=zone_required)


_DURATION = re.compile(
    r"P(?!$)(?:(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?"
    r"|(?:[0-9]+W)?)"
)
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_LABEL}", re.I)
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\.?$){_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?", re.I)
_UUID = re.compile(r"(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.I)
_POINTER = r"(?:/(?:[^~/]|~0|~1)*)*"
_JSON_POINTER = re.compile(_POINTER, re.S)
_RELATIVE_POINTER = re.compile(rf"(?:0|[1-9][0-9]*)(?:#|{_POINTER})", re.S)
_POINTER_FRAGMENT = re.compile(r"#(?:/(?:[a-z0-9_\-.!$&'()*+,;:=@]|%[0-9a-f]{2}|~0|~1)*)*", re.I)
_BYTE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

# RFC 3986, appendix A, written out from its grammar.
_PCT = r"%[0-9a-f]{2}"
_UNRESERVED_SUB = r"a-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_REG_NAME = rf"(?:[{_UNRESERVED_SUB}]|{_PCT})*"
_USERINFO = rf"(?:[{_UNRESERVED_SUB}:]|{_PCT})*"
_AUTHORITY = re.compile(rf"(?:({_USERINFO})@)?(\[[^\]]*\]|{_REG_NAME})(?::[0-9]*)?", re.I)
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_TAIL = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_HIER = rf"(?://([^/?#]*){_PATH_ABEMPTY}|/(?:{_PCHAR}+{_PATH_ABEMPTY})?|{_PCHAR}+{_PATH_ABEMPTY})"
_URI = re.compile(rf"[a-z][a-z0-9+\-.]*:{_HIER}{_TAIL}", re.I)
_RELATIVE = re.compile(rf"{_HIER}?{_TAIL}", re.I)
_VARNAME = rf"(?:[a-z0-9_]|{_PCT})+(?::[1-9][0-9]{{0,3}}|\*)?"
_URI_TEMPLATE = re.compile(
    rf"(?:[^\x00-\x20\"'<>%\\^`{{|}}]|{_PCT}|\{{[+#./;?&=,!@|]?{_VARNAME}(?:,{_VARNAME})*\}})*",
    re.I,
)


def _authority_ok(authority: str | None) -> bool:
    if authority is None:
        return True
    m = _AUTHORITY.fullmatch(authority)
    if not m:
        return False
    host = m[2]
    if host.startswith("["):
        inner = host[1:-1]
        if re.fullmatch(r"v[0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+", inner, re.I):
            return True
        return is_ipv6(inner)
    return True


def is_uri(text: str) -> bool:
    """An absolute URI (a scheme, then the rest), as RFC 3986 spells it."""
    m = _URI.fullmatch(text)
    return m is not None and _authority_ok(m[1])


def is_uri_reference(text: str) -> bool:
    if is_uri(text):
        return True
    m = _RELATIVE.fullmatch(text)
    return m is not None and _authority_ok(m[1])


def is_ipv4(text: str) -> bool:
    if not re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", text):
        return False
    return all(part == "0" or not part.startswith("0") for part in text.split(".")) and _parses(
        ipaddress.IPv4Address, text
    )


def is_ipv6(text: str) -> bool:
    # No zone id ("%eth0"): not part of the JSON Schema format, and ajv-formats refuses it.
    return "%" not in text and text.isascii() and _parses(ipaddress.IPv6Address, text)


def _parses(kind: Callable[[str], Any], text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def is_regex(text: str) -> bool:
    # Python's re, not ECMAScript's: the few constructs that differ are rare in golden sets.
    try:
        re.compile(text)
    except re.error:
        return False
    return True


def _int32(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "date": is_date,
    "time": is_time,
    "date-time": is_date_time,
    "iso-time": lambda s: is_time(s, zone_required=False),
    "iso-date-time": lambda s: is_date_time(s, zone_required=False),
    "duration": lambda s: bool(_DURATION.fullmatch(s)),
    "uri": is_uri,
    "uri-reference": is_uri_reference,
    "uri-template": lambda s: bool(_URI_TEMPLATE.fullmatch(s)),
    "url": lambda s: (
        is_uri(s) and s.split(":", 1)[0].lower() in ("http", "https", "ftp") and "//" in s
    ),
    "email": lambda s: bool(_EMAIL.fullmatch(s)),
    "hostname": lambda s: bool(_HOSTNAME.fullmatch(s)),
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "regex": is_regex,
    "uuid": lambda s: bool(_UUID.fullmatch(s)),
    "json-pointer": lambda s: bool(_JSON_POINTER.fullmatch(s)),
    "json-pointer-uri-fragment": lambda s: bool(_POINTER_FRAGMENT.fullmatch(s)),
    "relative-json-pointer": lambda s: bool(_RELATIVE_POINTER.fullmatch(s)),
    "byte": lambda s: bool(_BYTE.fullmatch(s)),
    "password": lambda s: True,
    "binary": lambda s: True,
}
NUMBER_FORMATS: dict[str, Callable[[Any], bool]] = {
    "int32": _int32,
    "int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: True,
    "double": lambda v: True,
}
KNOWN_FORMATS = frozenset(STRING_FORMATS) | frozenset(NUMBER_FORMATS)


def format_checker():
    """A jsonschema FormatChecker with exactly these formats; each applies to its own JSON type
    only (a number is not checked against "email"), as JSON Schema says."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, check in STRING_FORMATS.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    for name, check in NUMBER_FORMATS.items():
        checker.checks(name)(
            lambda value, check=check: (
                isinstance(value, bool) or not isinstance(value, (int, float)) or check(value)
            )
        )
    return checker


def unknown_formats(schema: Any) -> list[str]:
    """Formats a schema names that promptfoo's validator does not know: ajv refuses the schema
    (strict mode), so a typo like "datetime" is an error rather than a check that never runs."""
    found: list[str] = []
    if isinstance(schema, dict):
        name = schema.get("format")
        if isinstance(name, str) and name not in KNOWN_FORMATS:
            found.append(name)
        for key, value in schema.items():
            if key not in ("enum", "const", "default", "examples"):
                found += unknown_formats(value)
    elif isinstance(schema, list):
        for item in schema:
            found += unknown_formats(item)
    return found
