"""Providers: where an answer comes from. One small interface, registered by name.

- anthropic: the official SDK (imported only when a request must really be sent);
- echo: the rendered prompt itself, offline and free;
- replay: recorded responses only (the cache); a miss is skipped with the reason.

The runner asks a provider for an answer and reads its class attributes (is it recorded, can it
judge, how are its recordings found); it never asks which provider it is.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from promptvc.errors import CannotEvaluate
from promptvc.evaluation.request import ModelRequest

DEFAULT_ENDPOINT = "https://api.anthropic.com"


@dataclass(frozen=True)
class Response:
    text: str
    model: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float

    @property
    def truncated(self) -> bool:
        return self.stop_reason == "max_tokens"


class ProviderError(Exception):
    """A call that failed after the SDK's retries. `unreachable` ones make the run exit 3."""

    def __init__(self, message: str, unreachable: bool):
        super().__init__(message)
        self.unreachable = unreachable


class MalformedResponse(ProviderError):
    """A 200 whose body is not a message: the provider's fault, never cached."""

    def __init__(self, why: str):
        super().__init__(f"malformed response from the API: {why}", unreachable=True)


class RequestRejected(ProviderError):
    """A non-transient 4xx (an unknown model, a prompt too long): the user's configuration, exit 2."""

    def __init__(self, message: str, *, model_unknown: bool = False):
        super().__init__(message, unreachable=False)
        self.model_unknown = model_unknown


class Skipped(Exception):
    """No recording for a request in replay mode."""


@dataclass(frozen=True)
class Identity:
    """Which provider a set's scores come from; part of the set's content key."""

    kind: str  # anthropic or echo
    endpoint: str
    mode: str  # live, replay or echo

    @property
    def scores_key(self) -> tuple[str, str]:
        """Scores are comparable only between the same provider and endpoint (replay replays live)."""
        return self.kind, self.endpoint

    @property
    def label(self) -> str:
        return self.kind if self.mode != "replay" else "anthropic (replay)"

    @property
    def provider(self) -> str:
        """The registered provider that answers for this identity."""
        return {"live": self.kind}.get(self.mode, self.mode)


def endpoint() -> str:
    """The endpoint as keys, the store and exports name it: ANTHROPIC_BASE_URL without credentials."""
    return public_endpoint(os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT)


def public_endpoint(url: str) -> str:
    """Scheme, host, port and path only: a `user:pass@` or a `?key=` must never reach the database
    or a file of recorded responses that a team commits."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")


def identity_for(set_provider: str | None, override: str | None, default: str) -> Identity:
    """A set's own `provider: echo` always holds; otherwise --provider, the set's, then the default."""
    if set_provider == "echo":
        return Identity("echo", "local", "echo")
    choice = override or set_provider or default
    if choice == "auto" or (choice == "anthropic" and not override and not has_key()):
        # Without a key, run what recordings can answer; only an explicit --provider anthropic insists.
        choice = "anthropic" if has_key() else "replay"
    if choice == "echo":
        return Identity("echo", "local", "echo")
    return Identity("anthropic", endpoint(), "replay" if choice == "replay" else "live")


def has_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def require_key() -> None:
    if not has_key():
        raise CannotEvaluate(
            "ANTHROPIC_API_KEY is not set; use --provider replay to run from recordings only"
        )


def echo_response(request: ModelRequest) -> Response:
    return Response(request.plain(), "echo", "end_turn", 0, 0, 0.0)


@dataclass(frozen=True)
class ProviderOptions:
    """What every provider may need, from promptvc.toml and the command line."""

    concurrency: int = 8
    timeout: float = 60.0  # one attempt's connect and read timeouts
    max_retries: int = 4
    retry_after_cap: float = 30.0
    deadline: float = 90.0  # one request, all attempts and waits together


class Provider(ABC):
    """Answers a model request. `complete` raises ProviderError (or Skipped) instead of answering."""

    name: ClassVar[str]
    sends: ClassVar[bool] = True  # a request goes out (and may cost money)
    recorded: ClassVar[bool] = True  # answers are cached, and a recording may answer instead
    judges: ClassVar[bool] = True  # can answer an llm-rubric judge
    # How a recording is found: by the exact request (endpoint included), or by what was asked.
    recordings_by: ClassVar[Literal["request", "ask"]] = "request"

    def __init__(self, options: ProviderOptions):
        self.options = options

    @abstractmethod
    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        """The answer to one request. `before_send` runs right before it is first sent (in its
        concurrency slot): the moment to look in the store once more, in case another run has
        recorded the answer since; whatever it raises ends the call unsent."""

    async def close(self) -> None:
        return None


PROVIDERS: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    PROVIDERS[cls.name] = cls
    return cls


def create_provider(name: str, options: ProviderOptions) -> Provider:
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise CannotEvaluate(
            f"unknown provider '{name}' (known: {', '.join(sorted(PROVIDERS))})"
        ) from None
    return cls(options)


@register
class AnthropicProvider(Provider):
    """The Messages API (or any endpoint that speaks it, through ANTHROPIC_BASE_URL)."""

    name = "anthropic"

    def __init__(self, options: ProviderOptions):
        require_key()
        super().__init__(options)
        from promptvc.providers.anthropic_api import MessagesClient  # the SDK, only when sending

        self.api = MessagesClient(options)

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        return await self.api.complete(request, before_send)

    async def close(self) -> None:
        await self.api.close()


@register
class EchoProvider(Provider):
    """The rendered prompt as the answer: offline, free, deterministic, never cached."""

    name = "echo"
    sends = False
    recorded = False
    judges = False

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        return echo_response(request)


@register
class ReplayProvider(Provider):
    """Nothing is sent: a recording found by what was asked answers, or the case is skipped."""

    name = "replay"
    sends = False
    recordings_by = "ask"

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        raise Skipped(
            "no recording for this request (replay answers from recordings only: "
            "`promptvc responses import` loads them; with ANTHROPIC_API_KEY the model is asked)"
        )
