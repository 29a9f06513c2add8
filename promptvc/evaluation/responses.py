"""A model's response as a run keeps it: priced (prompt cache, batch discount) and counted in the
run's figures, stored as a row of the `responses` table and read back from one, and its structured
answer made canonical. A response sent one by one and one read from a batch follow the same rules
here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from promptvc.clock import now
from promptvc.evaluation.prices import CacheUse, Price
from promptvc.evaluation.request import ModelRequest
from promptvc.prompts.output_schema import canonical_json
from promptvc.providers import Response


@dataclass
class RunStats:
    calls: int = 0
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cache_written: int = 0  # input tokens the prompt cache wrote and read for calls sent now
    cache_read: int = 0
    cache_saved: float = 0.0
    unreachable: list[str] = field(default_factory=list)
    rejected: list[str] = field(
        default_factory=list
    )  # requests the API refused: a configuration error


def charge(
    stats: RunStats,
    request: ModelRequest,
    response: Response,
    price: Price | None,
    discount: float = 1.0,
) -> float | None:
    """A response paid for now: its cost (None at an unknown price; `discount`, the batch API's),
    counted in the run's figures with its tokens and what the prompt cache saved."""
    use = cache_use(request, response)
    cost = (
        price.cost(response.input_tokens, response.output_tokens, use) * discount if price else None
    )
    stats.calls += 1
    stats.cost += cost or 0.0
    stats.tokens_in += response.input_tokens
    stats.tokens_out += response.output_tokens
    stats.cache_written += use.written
    stats.cache_read += use.read
    stats.cache_saved += cache_saving(price, request, response) * discount
    return cost


def cache_saving(price: Price | None, request: ModelRequest, response: Response) -> float:
    """What the prompt cache saved on a response (nothing at an unknown price)."""
    return price.cache_saving(cache_use(request, response), response.input_tokens) if price else 0.0


def cache_use(request: ModelRequest, response: Response) -> CacheUse:
    """A response's prompt-cache tokens, its writes priced by its breakpoints' time to live."""
    ttl = request.breakpoints[0].ttl if request.breakpoints else None
    return CacheUse.of(response.cache_write_tokens, response.cache_read_tokens, ttl)


def structured(request: ModelRequest, response: Response) -> Response:
    """An answer asked for in a structure is kept as canonical JSON (keys sorted, no insignificant
    space), so that equal answers are equal outputs; one that is not JSON is kept as it came, for
    the implicit is-json check to fail."""
    if request.output_schema is None:
        return response
    text = canonical_json(response.text)
    return response if text is None else replace(response, text=text)


def response_row(
    request: ModelRequest, response: Response, cost: float | None, source: str
) -> dict:
    """A response as the `responses` table stores it (`source`: live, batch or import)."""
    return {
        "key": request.key,
        "provider": request.provider,
        "endpoint": request.endpoint,
        "model": request.model,
        "request": request.as_json(),
        "text": response.text,
        "reported_model": response.model,
        "stop_reason": response.stop_reason,
        "tokens_in": response.input_tokens,
        "tokens_out": response.output_tokens,
        "latency_ms": response.latency_ms,
        "cost": cost,
        "source": source,
        "created_at": now(),
        "ask_key": request.ask_key,
        "cache_write_tokens": response.cache_write_tokens,
        "cache_read_tokens": response.cache_read_tokens,
    }


def response_from_row(row: dict) -> Response:
    """A recorded response, as the provider would have answered it."""
    return Response(
        row["text"],
        row["reported_model"] or row["model"],
        row["stop_reason"],
        row["tokens_in"] or 0,
        row["tokens_out"] or 0,
        row["latency_ms"] or 0.0,
        row.get("cache_write_tokens") or 0,
        row.get("cache_read_tokens") or 0,
    )
