"""The Messages API through the official SDK. The only module that imports anthropic."""

from __future__ import annotations

import asyncio
import json
import time

import anthropic

from promptvc.providers import MalformedResponse, ProviderError, RequestRejected, Response
from promptvc.evaluation.request import ModelRequest

# Keyword arguments `messages.create` takes; sampling parameters (temperature, top_p, top_k)
# were removed from its signature in SDK 1.0 and travel in extra_body, unchanged on the wire.
SDK_KWARGS = {"model", "max_tokens", "messages", "system", "stop_sequences", "metadata", "thinking",
              "tool_choice", "tools"}


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
        return RequestRejected(f"the API does not know model '{model}' ({detail}); check the tier or "
                               "`model:` in front matter, and ANTHROPIC_BASE_URL", model_unknown=True)
    return RequestRejected(f"the API rejected the request for model '{model}' ({detail})")


def _client_class(retry_after_cap: float):
    class CappedRetryClient(anthropic.AsyncAnthropic):
        # The SDK obeys any retry-after, even an hour; a commit hook cannot wait that long.
        def _calculate_retry_timeout(self, remaining_retries, options, response_headers=None):
            wait = super()._calculate_retry_timeout(remaining_retries, options, response_headers)
            return min(wait, retry_after_cap)

    return CappedRetryClient


class AnthropicProvider:
    def __init__(self, *, concurrency: int, timeout: float, max_retries: int, retry_after_cap: float):
        self.client = _client_class(retry_after_cap)(timeout=timeout, max_retries=max_retries)
        self.limit = asyncio.Semaphore(concurrency)
        self.unknown_models: dict[str, RequestRejected] = {}  # one 404 per model is enough

    async def complete(self, request: ModelRequest) -> Response:
        async with self.limit:
            if request.model in self.unknown_models:
                raise self.unknown_models[request.model]
            started = time.perf_counter()
            try:
                # The raw response, read as JSON: building the SDK's pydantic models costs
                # milliseconds per call on the event loop's one thread.
                raw = await self.client.messages.with_raw_response.create(**sdk_arguments(request.payload()))
                data = await raw.read()
            except (anthropic.APIConnectionError, anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
                raise ProviderError(f"{type(exc).__name__}: {_message(exc)}", unreachable=True) from None
            except anthropic.APIStatusError as exc:
                if exc.status_code in REJECTED:
                    rejected = _rejected(request.model, exc)
                    if rejected.model_unknown:
                        self.unknown_models[request.model] = rejected
                    raise rejected from None
                unreachable = exc.status_code in (429, 529) or exc.status_code >= 500
                raise ProviderError(f"HTTP {exc.status_code}: {_message(exc)}", unreachable=unreachable) from None
            latency = (time.perf_counter() - started) * 1000
        return parse_message(data, request.model, latency)

    async def close(self) -> None:
        await self.client.close()


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
        raise MalformedResponse(f"type {body.get('type')!r}, not a message" + (f" ({detail})" if detail else ""))
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
    return Response("".join(texts), model, stop_reason, tokens[0], tokens[1], latency_ms)


def _preview(data: bytes) -> str:
    text = data[:60].decode("utf-8", "replace").replace("\n", " ")
    return f"{len(data)} bytes: {text!r}" + ("…" if len(data) > 60 else "")


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", exc))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
