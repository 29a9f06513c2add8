"""Providers: where an answer comes from. One small interface, three kinds.

- anthropic: the official SDK (imported only when a request must really be sent);
- echo: the rendered prompt itself, offline and free;
- replay: recorded responses only (the cache); a miss is skipped with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from promptvc.errors import CannotEvaluate
from promptvc.requests import ModelRequest

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


class Skipped(Exception):
    """No recording for a request in replay mode."""


@dataclass(frozen=True)
class Identity:
    """Which provider a set's scores come from; part of the set's content key."""
    kind: str        # anthropic or echo
    endpoint: str
    mode: str        # live, replay or echo

    @property
    def label(self) -> str:
        return self.kind if self.mode != "replay" else "anthropic (replay)"


def endpoint() -> str:
    return (os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT).rstrip("/")


def identity_for(set_provider: str | None, override: str | None, default: str) -> Identity:
    """A set's own `provider: echo` always holds; otherwise --provider, the set's, then the default."""
    if set_provider == "echo":
        return Identity("echo", "local", "echo")
    choice = override or set_provider or default
    if choice == "auto":
        choice = "anthropic" if os.environ.get("ANTHROPIC_API_KEY") else "replay"
    if choice == "echo":
        return Identity("echo", "local", "echo")
    return Identity("anthropic", endpoint(), "replay" if choice == "replay" else "live")


def require_key() -> None:
    if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        raise CannotEvaluate("ANTHROPIC_API_KEY is not set; use --provider replay to run from recordings only")


def echo_response(request: ModelRequest) -> Response:
    return Response(request.plain(), "echo", "end_turn", 0, 0, 0.0)
