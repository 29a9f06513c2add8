"""Built-in prices (USD per million tokens) and the offline token estimate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


# Longest prefix wins, so dated ids (claude-haiku-4-5-20251001) find their family.
BUILTIN_PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}


def price_for(
    model: str | None,
    override: dict | None = None,
    known: tuple[float, float] | None = None,
) -> Price | None:
    """The tier's own price, else what the provider knows (a local server: $0), else the table."""
    if override:
        return Price(float(override.get("input", 0)), float(override.get("output", 0)))
    if known is not None:
        return Price(*known)
    if not model:
        return None
    matches = [key for key in BUILTIN_PRICES if model.startswith(key)]
    return BUILTIN_PRICES[max(matches, key=len)] if matches else None


def estimate_tokens(text: str) -> int:
    """An offline estimate (about 4 characters a token for English); labelled ≈ wherever shown."""
    return (len(text) + 3) // 4
