"""How counts and money read, in every message and view: one rule each, so "1 cases" and a cap
of $0.0001 shown as "$0.00" cannot come back in one place while fixed in another."""

from __future__ import annotations

import math


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 case`, `2 cases`, `0 cases`; `many` for irregular words (`1 was`, `2 were`)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def money(amount: float) -> str:
    """Dollars with the digits that make a small amount visible: at least cents, and two
    significant digits below a cent ($0.25, $0.0019, $0.0001, $0.000011, $1,234.50)."""
    if amount < 0:
        return "−" + money(-amount)
    if amount == 0 or not math.isfinite(amount):
        return "$0.00" if amount == 0 else f"${amount}"
    decimals = max(2, 1 - math.floor(math.log10(amount)))
    text = f"{amount:,.{decimals}f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"${whole}.{fraction}"


def signed_money(amount: float) -> str:
    return ("+" if amount >= 0 else "") + money(amount)
