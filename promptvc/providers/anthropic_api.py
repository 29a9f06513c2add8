"""The Messages API through the official SDK. The only module that imports anthropic."""

from __future__ import annotations

import asyncio
import time

import anthropic

from promptvc.evaluation.request import ModelRequest
from promptvc.providers import ProviderError, Response

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

    async def complete(self, request: ModelRequest) -> Response:
        async with self.limit:
            started = time.perf_counter()
            try:
                # The raw response, read as JSON: building the SDK's pydantic models costs
                # milliseconds per call on the event loop's one thread.
                raw = await self.client.messages.with_raw_response.create(**sdk_arguments(request.payload()))
                body = await raw.json()
            except (anthropic.APIConnectionError, anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
                raise ProviderError(f"{type(exc).__name__}: {_message(exc)}", unreachable=True) from None
            except anthropic.APIStatusError as exc:
                unreachable = exc.status_code in (429, 529) or exc.status_code >= 500
                raise ProviderError(f"HTTP {exc.status_code}: {_message(exc)}", unreachable=unreachable) from None
            latency = (time.perf_counter() - started) * 1000
        text = "".join(block.get("text", "") for block in body.get("content") or [] if block.get("type") == "text")
        usage = body.get("usage") or {}
        return Response(text, body.get("model") or request.model, body.get("stop_reason"),
                        int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0), latency)

    async def close(self) -> None:
        await self.client.close()


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", exc))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
