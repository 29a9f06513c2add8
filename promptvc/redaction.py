"""What never leaves the application in a captured call: emails, phone and card numbers, masked.

The default errs towards masking: a long order number may be taken for a phone number, which
costs a golden case a detail; a phone number taken for an order number would cost a person
their privacy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Redactor = Callable[[str], str]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, in groups split by single spaces or dashes, as cards are printed.
CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?!\w)")
# An optional +country, then 9 to 15 digits with the separators people write; a date
# (2026-11-26, 8 digits) or a time never has enough digits.
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d(?:[ ().-]{0,2}\d){8,14}(?!\w)")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_valid(digits) else match.group()


def redact_pii(text: str) -> str:
    """The default redaction: emails, card numbers (those that pass the Luhn check) and phone numbers."""
    text = EMAIL.sub("[email]", text)
    text = CARD.sub(_card, text)
    return PHONE.sub("[phone]", text)


def redact_values(value: Any, redact: Redactor) -> Any:
    """Every string inside `value` (mapping values, list items), redacted; keys, numbers that are
    no card or phone number, booleans and None kept; any other object redacted as its text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_values(item, redact) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_values(item, redact) for item in value]
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        masked = redact(str(value))  # a card or phone number passed as a number
        return value if masked == str(value) else masked
    return redact(str(value))  # anything else is written as its text, so redacted as its text
