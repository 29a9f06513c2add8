"""The Messages API through the official SDK. The only module that imports anthropic."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable

import anthropic

from promptvc.evals.toolcalls import tool_calls_output
from promptvc.evaluation.request import ModelRequest
from promptvc.providers import (
    MalformedResponse,
    ProviderError,
    ProviderOptions,
    RequestRejected,
    Response,
)

# Keyword arguments `messages.create` takes; sampling parameters (temperature, top_p, top_k)
# were removed from its signature in SDK 1.0 and travel in extra_body, unchanged on the wire.
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


def sdk_arguments(body: dict) -> dict:
    kwargs = {k: v for k, v in body.items() if k in SDK_KWARGS}
    extra = {k: v for k, v in body.items() if k not in SDK_KWARGS}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


# Statuses that no retry will change: the request itself (its model, its size) is wrong.
REJECTED = {400, 404, 405, 413, 422}


def _rejected(model: str, exc: anthropic.APIStatusError) -> RequestRejected:
    detail = f"HTTP {exc.status_code}: {_message(exc)}"
    if exc.status_code == 404:
        return RequestRejected(
            f"the API does not know model '{model}' ({detail}); check the tier or "
            "`model:` in front matter, and ANTHROPIC_BASE_URL",
            model_unknown=True,
        )
    return RequestRejected(f"the API rejected the request for model '{model}' ({detail})")


class MessagesClient:
    """The Messages API for the anthropic provider. Retries are promptvc's own, not the SDK's, so
    that a request waiting to retry gives its concurrency slot to another, every attempt and wait
    fits in one deadline, and calls stop early when most have failed the same way."""

    def __init__(self, options: ProviderOptions):
        self.options = options
        self.client = anthropic.AsyncAnthropic(timeout=options.timeout, max_retries=0)
        self.limit = asyncio.Semaphore(options.concurrency)
        self.unknown_models: dict[str, RequestRejected] = {}  # one 404 per model is enough
        self.faults = FaultTally()

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.deadline
        arguments = sdk_arguments(request.payload())
        attempt = 0
        while True:
            try:
                return await self._attempt(
                    request, arguments, deadline, before_send if attempt == 0 else None
                )
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
        arguments: dict,
        deadline: float,
        before_send: Callable[[], None] | None,
    ) -> Response:
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
                    # The raw response, read as bytes: building the SDK's pydantic models costs
                    # milliseconds per call on the event loop's one thread.
                    raw = await self.client.messages.with_raw_response.create(**arguments)
                    data = await raw.read()
            except TimeoutError:
                raise _Failure(
                    f"no complete answer within the {self.options.deadline:g} s deadline "
                    "([eval] deadline)",
                    "deadline",
                ) from None
            except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
                raise _Failure(
                    f"{type(exc).__name__}: {_message(exc)}", type(exc).__name__
                ) from None
            except anthropic.APIConnectionError as exc:
                raise _Retryable(
                    _Failure(f"{type(exc).__name__}: {_message(exc)}", type(exc).__name__)
                ) from None
            except anthropic.APIStatusError as exc:
                raise self._status_error(request.model, exc) from None
        response = parse_message(data, request.model, (time.perf_counter() - started) * 1000)
        self.faults.succeeded()
        return response

    def _status_error(self, model: str, exc: anthropic.APIStatusError) -> Exception:
        should = exc.response.headers.get("x-should-retry")
        if exc.status_code in REJECTED and should != "true":
            rejected = _rejected(model, exc)
            if rejected.model_unknown:
                self.unknown_models[model] = rejected
            return rejected
        failure = _Failure(f"HTTP {exc.status_code}: {_message(exc)}", f"HTTP {exc.status_code}")
        if should == "false" or not (
            should == "true" or exc.status_code in (408, 409, 429) or exc.status_code >= 500
        ):
            return failure
        return _Retryable(failure, _retry_after(exc.response.headers))

    async def close(self) -> None:
        await self.client.close()


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


def parse_message(data: bytes, requested_model: str, latency_ms: float) -> Response:
    """A Messages-API body as a Response, or MalformedResponse: a gateway's HTML page, a cut-off
    body or a 200 that is not a message must fail one case, never the run, and never be cached."""
    try:
        body = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedResponse("the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise MalformedResponse(f"the body is not JSON ({_preview(data)})") from None
    if not isinstance(body, dict):
        raise MalformedResponse(f"a JSON {type(body).__name__}, not a message")
    if body.get("type", "message") != "message":
        error = body.get("error")
        detail = error.get("message") if isinstance(error, dict) else None
        raise MalformedResponse(
            f"type {body.get('type')!r}, not a message" + (f" ({detail})" if detail else "")
        )
    content, usage = body.get("content"), body.get("usage") or {}
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise MalformedResponse("content is not a list of blocks")
    texts = [b.get("text") for b in content if b.get("type") == "text"]
    if not all(isinstance(t, str) for t in texts):
        raise MalformedResponse("a text block without text")
    if not isinstance(usage, dict):
        raise MalformedResponse("usage is not an object")
    tokens = [usage.get("input_tokens") or 0, usage.get("output_tokens") or 0]
    if not all(type(n) is int and n >= 0 for n in tokens):
        raise MalformedResponse(f"token counts are not numbers ({tokens[0]!r}, {tokens[1]!r})")
    model, stop_reason = body.get("model") or requested_model, body.get("stop_reason")
    if not isinstance(model, str) or not (stop_reason is None or isinstance(stop_reason, str)):
        raise MalformedResponse("model or stop_reason is not a string")
    text = "".join(texts)
    calls = _tool_calls(content)
    if calls:
        text = tool_calls_output(text, calls)
    return Response(text, model, stop_reason, tokens[0], tokens[1], latency_ms)


def _tool_calls(content: list[dict]) -> list[tuple[str, dict]]:
    """The answer's tool_use blocks as (name, arguments)."""
    calls = [(b.get("name"), b.get("input")) for b in content if b.get("type") == "tool_use"]
    if not all(isinstance(n, str) and isinstance(a, dict) for n, a in calls):
        raise MalformedResponse("a tool_use block without a name or an input object")
    return calls  # type: ignore[return-value]


def _preview(data: bytes) -> str:
    text = data[:60].decode("utf-8", "replace").replace("\n", " ")
    return f"{len(data)} bytes: {text!r}" + ("…" if len(data) > 60 else "")


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", exc))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
