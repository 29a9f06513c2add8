"""Providers: where an answer comes from. One small interface, three kinds.

- anthropic: the official SDK (imported only when a request must really be sent);
- echo: the rendered prompt itself, offline and free;
- replay: recorded responses only (the cache); a miss is skipped with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    kind: str        # anthropic or echo
    endpoint: str
    mode: str        # live, replay or echo

    @property
    def scores_key(self) -> tuple[str, str]:
        """Scores are comparable only between the same provider and endpoint (replay replays live)."""
        return self.kind, self.endpoint

    @property
    def label(self) -> str:
        return self.kind if self.mode != "replay" else "anthropic (replay)"


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
        raise CannotEvaluate("ANTHROPIC_API_KEY is not set; use --provider replay to run from recordings only")


def echo_response(request: ModelRequest) -> Response:
    return Response(request.plain(), "echo", "end_turn", 0, 0, 0.0)
