"""A model request in canonical form, and the hash it is cached under."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from promptvc.prompts.caching import SYSTEM, Breakpoint, blocks, plain_text
from promptvc.prompts.capabilities import sendable

DEFAULT_MAX_TOKENS = 1024
# Keyword arguments the Anthropic SDK's `messages.create` takes; sampling parameters (temperature,
# top_p, top_k) were removed from its signature in SDK 1.0 and travel in extra_body, unchanged on
# the wire.
SDK_KWARGS = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "stop_sequences",
    "metadata",
    "thinking",
    "tool_choice",
    "tools",
}


def normalise(value: Any) -> Any:
    """Numbers compare by value (0 == 0.0), keys are sorted by json.dumps."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


def content_hash(*parts: Any) -> str:
    canonical = json.dumps(
        normalise(list(parts)),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# What of a request the Messages API's count_tokens endpoint takes (all that becomes input).
COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")


@dataclass(frozen=True)
class ModelRequest:
    provider: str  # "anthropic" or "echo"
    endpoint: str
    model: str
    system: str
    messages: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, Any], ...]  # everything else the API takes, sorted
    sample: int = 0
    # The judge's repeated grading of one answer (judge_repeat): each draw is its own call. The
    # first draw is keyed without it, as every judge call was before draws existed.
    draw: int = 0
    # Where the prompt cache may cut (`cache_control`); a request without any is keyed as before.
    breakpoints: tuple[Breakpoint, ...] = ()

    # Hashes are computed once per request (cached_property writes past the frozen dataclass):
    # a plan of thousands of cases asks for each key several times.
    @cached_property
    def key(self) -> str:
        return content_hash(
            self.provider,
            self.endpoint,
            "messages",
            self.model,
            self.system,
            [list(m) for m in self.messages],
            dict(self.params),
            self.sample,
            *_draw(self.draw),
            *_breaks(self.breakpoints),
        )

    @cached_property
    def ask_key(self) -> str:
        """What was asked, whatever endpoint carried it: how replay finds a recording."""
        return content_hash("ask/1", self.provider, self.payload(), self.sample, *_draw(self.draw))

    def count_payload(self) -> dict:
        """What the token-counting endpoint takes of this request: what goes into the prompt."""
        body = self.payload()
        return {k: v for k, v in body.items() if k in COUNTED}

    @cached_property
    def count_key(self) -> str:
        """The request as its input tokens are counted (the same whatever the sample or budget)."""
        return content_hash("count/1", self.provider, self.endpoint, self.count_payload())

    def payload(self, breakpoints: bool = True) -> dict:
        """The keyword arguments of `messages.create` (without `cache_control` blocks for an API
        that caches by itself)."""
        marked = self._content if breakpoints else _unmarked
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": r, "content": marked(i, c)} for i, (r, c) in enumerate(self.messages)
            ],
        }
        if self.system:
            body["system"] = marked(SYSTEM, self.system)
        body.update(dict(self.params))
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        return body

    def _content(self, index: int, text: str) -> str | list[dict]:
        """A text as sent: a plain string, or content blocks cut where its breakpoints are."""
        marks = {b.offset: b for b in self.breakpoints if b.message == index}
        return blocks(text, list(marks), marks) if marks else text

    @property
    def output_schema(self) -> dict | None:
        """The JSON Schema the answer is asked to follow (front matter `output_schema`), if any."""
        config = dict(self.params).get("output_config")
        form = config.get("format") if isinstance(config, dict) else None
        return form.get("schema") if isinstance(form, dict) else None

    def plain(self) -> str:
        """What the echo provider answers: the text `promptvc render --plain` prints."""
        return plain_text(self.system, self.messages, self.breakpoints)

    def as_json(self) -> str:
        return json.dumps(
            {
                "provider": self.provider,
                "endpoint": self.endpoint,
                **self.payload(),
                "sample": self.sample,
                **({"draw": self.draw} if self.draw else {}),
            },
            sort_keys=True,
            ensure_ascii=False,
        )


def sdk_arguments(body: dict) -> dict:
    """A request body as `messages.create` keyword arguments: what it does not name in extra_body."""
    kwargs = {k: v for k, v in body.items() if k in SDK_KWARGS}
    extra = {k: v for k, v in body.items() if k not in SDK_KWARGS}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def ask_key_of(request_json: str) -> str | None:
    """The ask key of a stored request (`ModelRequest.as_json`), for recordings made before it existed."""
    try:
        body = json.loads(request_json)
        provider, sample = body.pop("provider"), body.pop("sample", 0)
        draw = body.pop("draw", 0)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    body.pop("endpoint", None)
    return content_hash("ask/1", provider, body, sample, *_draw(draw))


def recording_of(row: dict | None, request: ModelRequest) -> dict | None:
    """A stored recording, if it records this request. A response fetched through git is filed
    under a key the remote chose; it answers only the request it says was asked."""
    if row is None or (row.get("source") == "git" and row.get("ask_key") != request.ask_key):
        return None
    return row


def _unmarked(_index: int, text: str) -> str:
    return text


def _draw(draw: int) -> tuple[int, ...]:
    return (draw,) if draw else ()


def _breaks(breakpoints: tuple[Breakpoint, ...]) -> tuple[list, ...]:
    return ([[b.message, b.offset, b.ttl] for b in breakpoints],) if breakpoints else ()


def build_request(
    rendered, provider: str, endpoint: str, sample: int = 0, draw: int = 0
) -> ModelRequest:
    """The request as it is sent, and so as it is keyed: a parameter the model rejects is left out."""
    model = rendered.config.model
    params = {k: v for k, v in sendable(model, rendered.config.params).items() if k != "model"}
    config = {"effort": params.pop("effort")} if params.get("effort") is not None else {}
    params.pop("effort", None)
    schema = rendered.config.output_schema
    if schema is not None and schema.schema is not None:
        config.update(output_config(schema.schema))
    if config:
        params["output_config"] = config
    return ModelRequest(
        provider=provider,
        endpoint=endpoint,
        model=model or "",
        system=rendered.system,
        messages=tuple((m.role, m.content) for m in rendered.messages),
        params=tuple(sorted(normalise(params).items())),
        sample=sample,
        draw=draw,
        breakpoints=rendered.breakpoints,
    )


def output_config(schema: dict) -> dict:
    """The Messages API's structured outputs: the answer constrained to a JSON Schema (no tool
    forced as a stand-in: the newest models refuse a forced tool_choice)."""
    return {"format": {"type": "json_schema", "schema": schema}}


def response_format(request: ModelRequest) -> dict | None:
    """The same ask in the OpenAI-compatible request style (chat completions' `response_format`);
    strict only when the schema fits strict mode (every object closed, every property required),
    which OpenAI would otherwise reject."""
    schema = request.output_schema
    if schema is None:
        return None
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": fits_strict_mode(schema)},
    }


def fits_strict_mode(schema: Any) -> bool:
    if isinstance(schema, list):
        return all(fits_strict_mode(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    properties = schema.get("properties")
    if isinstance(properties, dict) and (
        schema.get("additionalProperties") is not False
        or set(schema.get("required") or ()) != set(properties)
    ):
        return False
    return all(fits_strict_mode(value) for value in schema.values())
