"""Sending with promptvc's own retries, for every SDK generated the way anthropic's and openai's
are (the same exception classes under the same names).

Retries are promptvc's, not the SDK's, so that a request waiting to retry gives its concurrency
slot to another, every attempt and wait fits in one deadline, and calls stop early when most have
failed the same way. Imports no SDK: each client passes its own module in.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from types import ModuleType

from promptvc.evaluation.request import ModelRequest
from promptvc.providers import (
    MalformedResponse,
    ProviderError,
    ProviderOptions,
    RequestRejected,
    Response,
)

# Statuses that no retry will change: the request itself (its model, its size) is wrong.
REJECTED = {400, 404, 405, 413, 422}


class RetryingClient:
    """One endpoint's calls: a concurrency limit, retries, a deadline, and fail-fast. A subclass
    says how a request is sent (`send`, returning the body's bytes) and read (`parse`)."""

    where = "the tier or `model:` in front matter"  # what to check when a model is unknown

    def __init__(self, options: ProviderOptions, sdk: ModuleType):
        self.options = options
        self.sdk = sdk
        self.limit = asyncio.Semaphore(options.concurrency)
        self.unknown_models: dict[str, RequestRejected] = {}  # one 404 per model is enough
        self.faults = FaultTally()

    async def send(self, request: ModelRequest) -> bytes:
        raise NotImplementedError

    def parse(self, data: bytes, requested_model: str, latency_ms: float) -> Response:
        raise NotImplementedError

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.deadline
        attempt = 0
        while True:
            try:
                return await self._attempt(request, deadline, before_send if attempt == 0 else None)
            except _Retryable as retry:
                wait = min(
                    retry.wait if retry.wait is not None else _backoff(attempt),
                    self.options.retry_after_cap,
                )
                if attempt >= self.options.max_retries or loop.time() + wait >= deadline:
                    self.faults.failed(retry.error.kind)
                    raise retry.error from None
                attempt += 1
                await asyncio.sleep(wait)  # outside the concurrency slot
            except _Failure as failure:
                self.faults.failed(failure.kind)
                raise
            except MalformedResponse:
                self.faults.failed("malformed response")
                raise

    async def _attempt(
        self,
        request: ModelRequest,
        deadline: float,
        before_send: Callable[[], None] | None,
    ) -> Response:
        sdk = self.sdk
        async with self.limit:
            self.faults.raise_if_given_up()  # checked in the slot: the calls queued for it give up too
            if before_send is not None:
                before_send()
            if request.model in self.unknown_models:
                raise self.unknown_models[request.model]
            remaining = deadline - asyncio.get_running_loop().time()
            started = time.perf_counter()
            try:
                async with asyncio.timeout(max(remaining, 0.001)):
                    data = await self.send(request)
            except TimeoutError:
                raise _Failure(
                    f"no complete answer within the {self.options.deadline:g} s deadline "
                    "([eval] deadline)",
                    "deadline",
                ) from None
            except (sdk.AuthenticationError, sdk.PermissionDeniedError) as exc:
                raise _Failure(
                    f"{type(exc).__name__}: {message_of(exc)}", type(exc).__name__
                ) from None
            except sdk.APIConnectionError as exc:
                raise _Retryable(
                    _Failure(f"{type(exc).__name__}: {message_of(exc)}", type(exc).__name__)
                ) from None
            except sdk.APIStatusError as exc:
                raise self._status_error(request.model, exc) from None
        response = self.parse(data, request.model, (time.perf_counter() - started) * 1000)
        self.faults.succeeded()
        return response

    def _status_error(self, model: str, exc) -> Exception:
        should = exc.response.headers.get("x-should-retry")
        if exc.status_code in REJECTED and should != "true":
            rejected = self._rejected(model, exc)
            if rejected.model_unknown:
                self.unknown_models[model] = rejected
            return rejected
        failure = _Failure(f"HTTP {exc.status_code}: {message_of(exc)}", f"HTTP {exc.status_code}")
        if should == "false" or not (
            should == "true" or exc.status_code in (408, 409, 429) or exc.status_code >= 500
        ):
            return failure
        return _Retryable(failure, _retry_after(exc.response.headers))

    def _rejected(self, model: str, exc) -> RequestRejected:
        detail = f"HTTP {exc.status_code}: {message_of(exc)}"
        if exc.status_code == 404:
            return RequestRejected(
                f"the API does not know model '{model}' ({detail}); check {self.where}",
                model_unknown=True,
            )
        return RequestRejected(f"the API rejected the request for model '{model}' ({detail})")


class _Failure(ProviderError):
    """A call that failed: the provider's fault (exit 3), after retries when it was retryable."""

    def __init__(self, message: str, kind: str):
        super().__init__(message, unreachable=True)
        self.kind = kind


class _Retryable(Exception):
    def __init__(self, error: _Failure, wait: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.wait = wait


class FaultTally:
    """Fail fast: once most finished calls have failed the same way (at least three), the
    endpoint is down or misconfigured, and the calls still waiting give up without being sent."""

    def __init__(self, at_least: int = 3):
        self.at_least = at_least
        self.successes = 0
        self.by_kind: dict[str, int] = {}
        self.given_up: str | None = None

    def succeeded(self) -> None:
        self.successes += 1

    def failed(self, kind: str) -> None:
        count = self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        others = self.successes + sum(self.by_kind.values()) - count
        if count >= self.at_least and count > others:
            self.given_up = f"not sent: {count} calls before it failed the same way ({kind})"

    def raise_if_given_up(self) -> None:
        if self.given_up:
            raise ProviderError(self.given_up, unreachable=True)


def _backoff(attempt: int) -> float:
    """As the SDK waits: 0.5 s doubling to 8 s, less up to a quarter for jitter."""
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _retry_after(headers) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(float(headers.get(name)) * scale, 0.0)
        except (TypeError, ValueError):
            continue
    return None


def load_json(data: bytes):
    """A body as JSON, or MalformedResponse: a gateway's HTML page or a cut-off body must fail one
    case, never the run, and never be cached."""
    import json

    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedResponse("the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise MalformedResponse(f"the body is not JSON ({_preview(data)})") from None


def _preview(data: bytes) -> str:
    text = data[:60].decode("utf-8", "replace").replace("\n", " ")
    return f"{len(data)} bytes: {text!r}" + ("…" if len(data) > 60 else "")


def message_of(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", exc))
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # openai: the error itself
        return body["message"]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
