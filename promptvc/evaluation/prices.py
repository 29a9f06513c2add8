"""Built-in prices (USD per million tokens) and the offline token estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptvc.prompts.capabilities import claude_version

if TYPE_CHECKING:
    from promptvc.prompts.tiers import EffectiveConfig

# When the Claude rows below were last compared with the provider's price list, and where.
PRICES_CHECKED = "2026-11-26"
PRICES_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"
# Multipliers of the input price the Messages API bills (the same page, "Prompt caching" and
# "Batch processing"); the batch discount stacks with caching.
CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1
BATCH = 0.5


@dataclass(frozen=True)
class LongPrompt:
    """A dearer rate for every token of a request whose prompt is longer than `above` tokens."""

    above: int
    input: float
    output: float


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    long_prompt: LongPrompt | None = None

    def cost(self, input_tokens: int, output_tokens: int, cache: CacheUse | None = None) -> float:
        """The price of a call; the prompt cache's writes and reads at their multiples of input."""
        cache = cache or NO_CACHE
        rate = self.rate(input_tokens + cache.written + cache.read)
        cached = cache.written * cache.write_rate + cache.read * CACHE_READ
        return ((input_tokens + cached) * rate.input + output_tokens * rate.output) / 1_000_000

    def rate(self, prompt_tokens: int) -> Price | LongPrompt:
        if self.long_prompt is not None and prompt_tokens > self.long_prompt.above:
            return self.long_prompt
        return self

    def cache_saving(self, cache: CacheUse, input_tokens: int = 0) -> float:
        """What the prompt cache saved against sending the same tokens uncached (negative while
        writes are not yet paid back by reads), at the rate the whole prompt (`input_tokens`
        uncached besides) is paid at."""
        rate = self.rate(input_tokens + cache.written + cache.read).input
        saved = cache.read * (1 - CACHE_READ) - cache.written * (cache.write_rate - 1)
        return saved * rate / 1_000_000


@dataclass(frozen=True)
class CacheUse:
    """A call's input tokens written to and read from the prompt cache, and the write's price
    multiple (by the breakpoints' time to live)."""

    written: int = 0
    read: int = 0
    write_rate: float = CACHE_WRITE_5M

    @classmethod
    def of(cls, written: int, read: int, ttl: str | None) -> CacheUse:
        return cls(written, read, CACHE_WRITE_1H if ttl == "1h" else CACHE_WRITE_5M)


NO_CACHE = CacheUse()


# Longest prefix wins, so dated ids (claude-haiku-4-5-20251001) find their family.
BUILTIN_PRICES: dict[str, Price] = {
    # Claude: PRICES_SOURCE, checked PRICES_CHECKED
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-sonnet-5-5": Price(2.0, 10.0),
    "claude-haiku-5-5": Price(0.1, 0.5, LongPrompt(100_000, 0.5, 2.5)),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-opus-4-8": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
    # OpenAI
    "gpt-5": Price(1.25, 10.0),
    "gpt-5-mini": Price(0.25, 2.0),
    "gpt-5-nano": Price(0.05, 0.4),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.4, 1.6),
    "gpt-4.1-nano": Price(0.1, 0.4),
    "gpt-4o": Price(2.5, 10.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "o3": Price(2.0, 8.0),
    "o3-mini": Price(1.1, 4.4),
    "o4-mini": Price(1.1, 4.4),
    # Google Gemini (prompts up to 200k tokens)
    "gemini-2.5-pro": Price(1.25, 10.0),
    "gemini-2.5-flash": Price(0.3, 2.5),
    "gemini-2.5-flash-lite": Price(0.1, 0.4),
    "gemini-2.0-flash": Price(0.1, 0.4),
    "gemini-2.0-flash-lite": Price(0.075, 0.3),
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
    model = family_name(model)
    matches = [key for key in BUILTIN_PRICES if model.startswith(key)]
    return BUILTIN_PRICES[max(matches, key=len)] if matches else None


def config_price(config: EffectiveConfig) -> Price | None:
    """A prompt's price per its effective config: the tier's own, else what its provider knows
    (a local server: $0), else the built-in table."""
    known = None
    if config.connection and config.model and not config.price:
        from promptvc.errors import UserError
        from promptvc.providers import Connection, provider_class

        connection = Connection.of(config.connection)
        try:
            known = provider_class(connection.provider).known_price(connection, config.model)
        except UserError:  # an unknown provider is reported where the set is planned
            known = None
    return price_for(config.model, config.price, known)


def family_name(model: str) -> str:
    """The model's name without a router's or cloud's prefix: `models/gemini-2.5-flash`,
    `openai/gpt-4.1`, Bedrock's `us.anthropic.claude-haiku-4-5-20251001-v1:0`."""
    return model.rpartition("/")[2].rpartition("anthropic.")[2]


# Claude 4.7 and later (and the 5.x families) tokenize the same text into about 30% more tokens.
NEW_TOKENIZER = 1.3
NEW_TOKENIZER_FROM = (4, 7)


def tokenizer_factor(model: str | None) -> float:
    """How many more tokens than the classic ~4 characters a token this model's tokenizer makes."""
    found = claude_version(model)
    return NEW_TOKENIZER if found is not None and found[1] >= NEW_TOKENIZER_FROM else 1.0


def estimate_tokens(text: str, model: str | None = None) -> int:
    """An offline estimate (about 4 characters a token for English, ~30% more for the newer
    Claude tokenizer); labelled ≈ wherever shown."""
    tokens = (len(text) + 3) // 4
    factor = tokenizer_factor(model)
    return tokens if factor == 1.0 else int(tokens * factor + 0.5)


def over_budget(tokens: int, budget: int | None, counted: bool) -> str | None:
    """Why a render does not fit its prompt's `max_input_tokens`, or None when it does."""
    if budget is None or tokens <= budget:
        return None
    how = f"{tokens:,} input tokens (counted)" if counted else f"≈{tokens:,} input tokens"
    return f"{how}, over the prompt's max_input_tokens of {budget:,}"


# The shortest prefix each model caches, in tokens: a shorter one is sent at the full price and
# no cache entry is made, with no error. Anthropic's prompt-caching page
# (https://platform.claude.com/docs/en/build-with-claude/prompt-caching), as quoted in
# anthropics/anthropic-sdk-python#1194 (4.x and 3.x rows) and in LiteLLM's prompt-caching docs
# (https://docs.litellm.ai/docs/completion/prompt_caching: Opus 5 512, Opus 4.7 2,048, Sonnet 5
# and Opus 4.8 1,024); checked 2026-11-26. Longest prefix wins; the 5.5 family is not listed
# there and takes its 5 family's row, another Claude model 1,024.
MIN_CACHEABLE: dict[str, int] = {
    "claude-opus-5": 512,
    "claude-sonnet-5": 1024,
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-sonnet-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-haiku-4-5": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
DEFAULT_MIN_CACHEABLE = 1024


def min_cacheable_tokens(model: str | None) -> int:
    name = family_name(model or "")
    matches = [key for key in MIN_CACHEABLE if name.startswith(key)]
    return MIN_CACHEABLE[max(matches, key=len)] if matches else DEFAULT_MIN_CACHEABLE
