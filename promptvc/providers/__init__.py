"""Providers: where an answer comes from. One small interface, registered by name under the
entry-point group `promptvc.providers` (the built-in ones too; see `promptvc.providers.registry`).

- anthropic: the official SDK (imported only when a request must really be sent);
- openai, bedrock, vertex: OpenAI-compatible endpoints, and Claude through AWS or Google Cloud;
- echo: the rendered prompt itself, offline and free;
- replay: recorded responses only (the cache); a miss is skipped with the reason.

A tier names its provider and the provider's settings (`base_url`, `api_key_env`, `region`,
`project`): a `Connection`. The runner asks a provider for an answer and reads its class
attributes (is it recorded, can it judge, how are its recordings found); it never asks which
provider it is.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from promptvc.errors import CannotEvaluate, UserError
from promptvc.evaluation.request import ModelRequest

if TYPE_CHECKING:
    from promptvc.providers.batchapi import BatchFailure, BatchStatus

DEFAULT_ENDPOINT = "https://api.anthropic.com"


@dataclass(frozen=True)
class Response:
    text: str
    model: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float
    # Input tokens written to and read from the provider's prompt cache (billed apart from
    # input_tokens, which counts only what came after the last cache breakpoint).
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def truncated(self) -> bool:
        return self.stop_reason in TRUNCATED


# How each API says an answer was cut off by its token budget.
TRUNCATED = ("max_tokens", "length")


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
class Connection:
    """A tier's provider and its settings from tiers.yaml (`base_url`, `api_key_env`, `region`,
    `project`); a setting given as null is kept, since `api_key_env: null` means "no key"."""

    provider: str = "anthropic"
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, values: dict | None) -> Connection:
        values = dict(values or {})
        provider = values.pop("provider", None) or "anthropic"
        return cls(str(provider), tuple(sorted(values.items())))

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    def has(self, key: str) -> bool:
        return key in dict(self.settings)


@dataclass(frozen=True)
class Identity:
    """Which provider a set's scores come from; part of the set's content key."""

    kind: str  # the provider that answers live (anthropic, openai, a plugin's name), or echo
    endpoint: str
    mode: str  # live, replay or echo
    connection: Connection = field(default_factory=Connection)

    @property
    def scores_key(self) -> tuple[str, str]:
        """Scores are comparable only between the same provider and endpoint (replay replays live)."""
        return self.kind, self.endpoint

    @property
    def label(self) -> str:
        return self.kind if self.mode != "replay" else f"{self.kind} (replay)"

    @property
    def provider(self) -> str:
        """The registered provider that answers for this identity."""
        return {"live": self.kind}.get(self.mode, self.mode)

    def count_tokens(self, model: str, text: str) -> int | None:
        """The provider's own offline count of the text's tokens, where it has one."""
        if self.mode == "echo":
            return None
        return provider_class(self.kind).count_tokens(self.connection, model, text)

    def known_price(self, model: str | None) -> tuple[float, float] | None:
        """The provider's own price for a model, where it knows better than the built-in table."""
        if self.mode == "echo" or not model:
            return None
        return provider_class(self.kind).known_price(self.connection, model)


def endpoint() -> str:
    """The endpoint as keys, the store and exports name it: ANTHROPIC_BASE_URL without credentials."""
    return public_endpoint(os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT)


# Variables a set's key may depend on besides its files: the endpoint a tier without a `base_url`
# or `region` reaches.
ENDPOINT_VARIABLES = (
    "OPENAI_BASE_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
)


def key_environment() -> str:
    """What of the environment set keys depend on, so that keys computed once per commit are
    found again only in the same environment: the Anthropic endpoint, and the other providers'
    endpoint variables where set."""
    others = [
        f"{name}={public_endpoint(os.environ[name])}"
        for name in ENDPOINT_VARIABLES
        if os.environ.get(name)
    ]
    return " ".join([endpoint(), *others])


def public_endpoint(url: str) -> str:
    """Scheme, host, port and path only: a `user:pass@` or a `?key=` must never reach the database
    or a file of recorded responses that a team commits."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")


def identity_for(
    set_provider: str | None,
    override: str | None,
    default: str,
    connection: Connection | None = None,
) -> Identity:
    """A set's own `provider: echo` always holds; otherwise --provider, the set's, then the default.
    Any choice but echo and replay means the tier's own provider (`connection`), live."""
    if set_provider == "echo":
        return Identity("echo", "local", "echo")
    choice = override or set_provider or default
    if choice == "echo":
        return Identity("echo", "local", "echo")
    connection = connection or Connection()
    cls = provider_class(connection.provider)
    if not cls.live:
        raise UserError(
            f"provider '{cls.name}' is an offline mode, not a model: a golden set's `provider:` "
            f"or --provider chooses it"
        )
    where = cls.endpoint_of(connection)
    if choice == "replay":
        return Identity(connection.provider, where, "replay", connection)
    if choice == "auto" or (choice in ("live", "anthropic") and not override):
        # Without a key, run what recordings can answer; only an explicit --provider insists.
        if not cls.has_key(connection):
            return Identity(connection.provider, where, "replay", connection)
    cls.check_installed()
    if not cls.has_key(connection):
        cls.require_key(connection)
    return Identity(connection.provider, where, "live", connection)


def has_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def require_key() -> None:
    if not has_key():
        raise CannotEvaluate(
            "ANTHROPIC_API_KEY is not set; use --provider replay to run from recordings only"
        )


def key_from(connection: Connection, default_env: str | None) -> str | None:
    """The key a tier's `api_key_env` names (or the provider's usual variable); None when the tier
    says `api_key_env: null` (a local server), and UserError when the variable is not set."""
    name = (
        connection.get("api_key_env", default_env) if connection.has("api_key_env") else default_env
    )
    if name is None:
        return None
    value = os.environ.get(str(name))
    if not value:
        raise MissingKey(
            f"{name} is not set (the {connection.provider} provider's key); set it, "
            "or use --provider replay to run from recordings only"
        )
    return value


def require_extra(provider: str, requires: tuple[str, str] | None) -> None:
    """UserError with the exact pip line when a provider's optional package is not installed."""
    if requires and not _importable(requires[0]):
        module, extra = requires
        raise UserError(
            f"the {provider} provider needs the {module} package: pip install 'promptvc[{extra}]'"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


class MissingKey(UserError):
    """A key variable that is not set: exit 2, naming the variable."""


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
    live: ClassVar[bool] = True  # a model answers (a tier may name it); echo and replay do not
    sends: ClassVar[bool] = True  # a request goes out (and may cost money)
    recorded: ClassVar[bool] = True  # answers are cached, and a recording may answer instead
    judges: ClassVar[bool] = True  # can answer an llm-rubric judge
    # How a recording is found: by the exact request (endpoint included), or by what was asked.
    recordings_by: ClassVar[Literal["request", "ask"]] = "request"
    # The module an optional extra brings, and the extra: checked before a run, imported at a send.
    requires: ClassVar[tuple[str, str] | None] = None
    # Takes requests in batches (submit_batch and the methods after it), at a discount.
    batches: ClassVar[bool] = False

    def __init__(self, options: ProviderOptions, connection: Connection | None = None):
        self.options = options
        self.connection = connection or Connection(self.name)

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        """Where the requests go, as keys and the store name it (never with credentials)."""
        return public_endpoint(str(connection.get("base_url") or cls.name))

    @classmethod
    def has_key(cls, connection: Connection) -> bool:
        """Whether a live call could authenticate; without a key a set runs from recordings."""
        return True

    @classmethod
    def check_installed(cls) -> None:
        require_extra(cls.name, cls.requires)

    @classmethod
    def require_key(cls, connection: Connection) -> None:
        """Raise MissingKey, naming the variable, where a live run cannot go without one."""
        return None

    @classmethod
    def count_tokens(cls, connection: Connection, model: str, text: str) -> int | None:
        """How many tokens this text is for the model, where the provider can tell offline (a
        tokenizer of its own); None for promptvc's estimate (about four characters a token)."""
        return None

    @classmethod
    def known_price(cls, connection: Connection, model: str) -> tuple[float, float] | None:
        """(input, output) USD per million tokens when this provider knows them better than the
        built-in table (a local server: (0, 0)); None to use the table."""
        return None

    async def count_input_tokens(self, request: ModelRequest) -> int | None:
        """The request's input tokens as the provider's own counting endpoint counts them; None
        where it has none (promptvc estimates them then). Raises ProviderError when it fails."""
        return None

    @abstractmethod
    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        """The answer to one request. `before_send` runs right before it is first sent (in its
        concurrency slot): the moment to look in the store once more, in case another run has
        recorded the answer since; whatever it raises ends the call unsent."""

    async def close(self) -> None:
        return None

    # -- batches (where `batches` is True) --------------------------------------------------

    async def submit_batch(self, requests: list[ModelRequest]) -> str:
        """Create one batch of these requests (each named by its key); its id."""
        raise NotImplementedError

    async def batch_status(self, batch_id: str) -> BatchStatus:
        """Raises BatchUnknown when the API no longer knows the id."""
        raise NotImplementedError

    def batch_results(self, batch_id: str) -> AsyncIterator[tuple[str, Response | BatchFailure]]:
        """(request key, its answer or why there is none), for an ended batch."""
        raise NotImplementedError

    async def cancel_batch(self, batch_id: str) -> None:
        raise NotImplementedError


PROVIDERS: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    PROVIDERS[cls.name] = cls
    return cls


def provider_class(name: str) -> type[Provider]:
    from promptvc.providers.registry import find_provider

    return find_provider(name)


def create_provider(
    name: str, options: ProviderOptions, connection: Connection | None = None
) -> Provider:
    return provider_class(name)(options, connection)


@register
class AnthropicProvider(Provider):
    """The Messages API (or any endpoint that speaks it, through ANTHROPIC_BASE_URL)."""

    name = "anthropic"

    def __init__(self, options: ProviderOptions, connection: Connection | None = None):
        super().__init__(options, connection)
        from promptvc.providers.anthropic_api import MessagesClient, first_party

        if self.connection.has("api_key_env"):
            key = key_from(self.connection, None) or "none"  # null: a local server takes no key
        else:
            require_key()
            key = None  # the SDK reads ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN itself
        self.api = MessagesClient(options, first_party(options, self.connection, key))

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        if connection.get("base_url"):
            return public_endpoint(str(connection.get("base_url")))
        return endpoint()

    @classmethod
    def has_key(cls, connection: Connection) -> bool:
        if connection.has("api_key_env"):
            name = connection.get("api_key_env")
            return name is None or bool(os.environ.get(str(name)))
        return has_key()

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        return await self.api.complete(request, before_send)

    async def count_input_tokens(self, request: ModelRequest) -> int | None:
        return await self.api.count(request)

    batches = True

    async def submit_batch(self, requests: list[ModelRequest]) -> str:
        return await self.api.submit_batch(requests)

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return await self.api.batch_status(batch_id)

    def batch_results(self, batch_id: str) -> AsyncIterator[tuple[str, Response | BatchFailure]]:
        return self.api.batch_results(batch_id)

    async def cancel_batch(self, batch_id: str) -> None:
        await self.api.cancel_batch(batch_id)

    async def close(self) -> None:
        await self.api.close()


@register
class EchoProvider(Provider):
    """The rendered prompt as the answer: offline, free, deterministic, never cached."""

    name = "echo"
    live = False
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
    live = False
    sends = False
    recordings_by = "ask"

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        raise Skipped(
            "no recording for this request (replay answers from recordings only: "
            "`promptvc responses import` loads them; with the tier's key (ANTHROPIC_API_KEY by default) the model is asked)"
        )
