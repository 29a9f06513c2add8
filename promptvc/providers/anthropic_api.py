"""The Messages API through the official SDK: first-party, or Claude on Amazon Bedrock or Google
Cloud Vertex AI through the SDK's own clients, with the same request body. The only module that
imports anthropic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anthropic

from promptvc.evals.toolcalls import tool_calls_output
from promptvc.evaluation.request import ModelRequest, sdk_arguments
from promptvc.providers import (
    Connection,
    MalformedResponse,
    ProviderError,
    ProviderOptions,
    Response,
)
from promptvc.providers.batchapi import BatchFailure, BatchStatus, BatchUnknown
from promptvc.providers.retrying import RetryingClient, load_json, message_of


def first_party(options: ProviderOptions, connection: Connection, key: str | None):
    """The Messages API itself, or any endpoint that speaks it (ANTHROPIC_BASE_URL, `base_url`)."""
    return anthropic.AsyncAnthropic(
        api_key=key,
        base_url=connection.get("base_url"),
        timeout=options.timeout,
        max_retries=0,
    )


def bedrock(options: ProviderOptions, connection: Connection, token: str | None):
    """Claude on Amazon Bedrock: a bearer token (AWS_BEARER_TOKEN_BEDROCK) or AWS credentials
    (signed through boto3, the `bedrock` extra)."""
    return anthropic.AsyncAnthropicBedrock(
        aws_region=connection.get("region"),
        api_key=token,
        base_url=connection.get("base_url"),
        timeout=options.timeout,
        max_retries=0,
    )


def vertex(options: ProviderOptions, connection: Connection, token: str | None):
    """Claude on Vertex AI: an access token, or Google's default credentials (google-auth, the
    `vertex` extra)."""
    return anthropic.AsyncAnthropicVertex(
        region=connection.get("region"),
        project_id=connection.get("project"),
        access_token=token,
        base_url=connection.get("base_url"),
        timeout=options.timeout,
        max_retries=0,
    )


class MessagesClient(RetryingClient):
    """The Messages API for the anthropic, bedrock and vertex providers."""

    where = "the tier or `model:` in front matter, and ANTHROPIC_BASE_URL"

    def __init__(self, options: ProviderOptions, client):
        super().__init__(options, anthropic)
        self.client = client

    async def send(self, request: ModelRequest) -> bytes:
        # The raw response, read as bytes: building the SDK's pydantic models costs milliseconds
        # per call on the event loop's one thread.
        raw = await self.client.messages.with_raw_response.create(
            **sdk_arguments(request.payload())
        )
        return await raw.read()

    def parse(self, data: bytes, requested_model: str, latency_ms: float) -> Response:
        return parse_message(data, requested_model, latency_ms)

    async def count(self, request: ModelRequest) -> int:
        """The request's input tokens, as the count_tokens endpoint counts them (free of charge)."""
        async with self.limit:
            try:
                counted = await self.client.messages.count_tokens(**request.count_payload())
            except anthropic.APIError as exc:
                unreachable = isinstance(exc, anthropic.APIConnectionError) or (
                    isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500
                )
                raise ProviderError(
                    f"counting tokens failed: {type(exc).__name__}: {message_of(exc)}", unreachable
                ) from None
        if type(counted.input_tokens) is not int:
            raise MalformedResponse("the token count is not a number")
        return counted.input_tokens

    # -- Message Batches --------------------------------------------------------------------
    # Each control call is small and idempotent but for create, so the SDK's own retries serve.

    @property
    def batches(self):
        return self.client.with_options(max_retries=self.options.max_retries).messages.batches

    async def submit_batch(self, requests: list[ModelRequest]) -> str:
        items = [{"custom_id": r.key, "params": r.payload()} for r in requests]
        async with _batch_call("creating a batch"):
            created = await self.batches.create(requests=items)
        return created.id

    async def batch_status(self, batch_id: str) -> BatchStatus:
        async with _batch_call(f"retrieving batch {batch_id}", batch_id):
            batch = await self.batches.retrieve(batch_id)
        counts = batch.request_counts
        return BatchStatus(
            batch.id,
            batch.processing_status == "ended",
            counts.processing,
            counts.succeeded,
            counts.errored + counts.expired + counts.canceled,
        )

    async def batch_results(
        self, batch_id: str
    ) -> AsyncIterator[tuple[str, Response | BatchFailure]]:
        # Read as JSON Lines, not built into the SDK's models: 2,000 results cost a second so.
        async with _batch_call(f"reading the results of batch {batch_id}", batch_id):
            async with self.batches.with_streaming_response.results(batch_id) as raw:
                async for line in raw.iter_lines():
                    if line.strip():
                        yield batch_line(line)

    async def cancel_batch(self, batch_id: str) -> None:
        async with _batch_call(f"canceling batch {batch_id}", batch_id):
            await self.batches.cancel(batch_id)

    async def close(self) -> None:
        await self.client.close()


@asynccontextmanager
async def _batch_call(doing: str, batch_id: str | None = None) -> AsyncIterator[None]:
    """The SDK's errors as promptvc's: a batch the API does not know, or a failed call."""
    try:
        yield
    except anthropic.NotFoundError as exc:
        if batch_id is None:
            raise ProviderError(f"{doing} failed: {message_of(exc)}", unreachable=True) from None
        raise BatchUnknown(batch_id, f"HTTP 404: {message_of(exc)}") from None
    except anthropic.APIError as exc:
        raise ProviderError(
            f"{doing} failed: {type(exc).__name__}: {message_of(exc)}", unreachable=True
        ) from None


# An errored request that sending again will not answer: the request itself is wrong.
REQUEST_FAULTS = (
    "invalid_request_error",
    "not_found_error",
    "permission_error",
    "request_too_large",
)


def batch_line(line: str) -> tuple[str, Response | BatchFailure]:
    """One line of a batch's results: (custom_id, the answer or why there is none)."""
    item = load_json(line.encode())
    result = item.get("result") if isinstance(item, dict) else None
    if not isinstance(result, dict) or not isinstance(item.get("custom_id"), str):
        raise MalformedResponse("a batch result line without a custom_id and a result")
    return item["custom_id"], _batch_answer(result)


def _batch_answer(result: dict) -> Response | BatchFailure:
    kind = result.get("type")
    if kind == "succeeded":
        try:
            return message_of_body(result.get("message"), "", 0.0)
        except MalformedResponse as exc:  # the API's fault for this request, not the batch's
            return BatchFailure("malformed", str(exc), again=False)
    if kind in ("expired", "canceled"):
        return BatchFailure(kind, f"the batch request {kind}", again=True)
    body = result.get("error")
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return BatchFailure(
        "errored",
        f"the batch request errored: {error.get('type')}: {error.get('message')}",
        again=error.get("type") not in REQUEST_FAULTS,
    )


def parse_message(data: bytes, requested_model: str, latency_ms: float) -> Response:
    """A Messages-API body as a Response, or MalformedResponse: a 200 that is not a message must
    fail one case, never the run, and never be cached."""
    return message_of_body(load_json(data), requested_model, latency_ms)


def message_of_body(body, requested_model: str, latency_ms: float) -> Response:
    """A Messages-API message, already read as JSON, as a Response (or MalformedResponse)."""
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
    cached = [usage.get(f"cache_{kind}_input_tokens") or 0 for kind in ("creation", "read")]
    if not all(type(n) is int and n >= 0 for n in tokens + cached):
        raise MalformedResponse(f"token counts are not numbers ({tokens[0]!r}, {tokens[1]!r})")
    model, stop_reason = body.get("model") or requested_model, body.get("stop_reason")
    if not isinstance(model, str) or not (stop_reason is None or isinstance(stop_reason, str)):
        raise MalformedResponse("model or stop_reason is not a string")
    text = "".join(texts)
    calls = _tool_calls(content)
    if calls:
        text = tool_calls_output(text, calls)
    return Response(text, model, stop_reason, tokens[0], tokens[1], latency_ms, *cached)


def _tool_calls(content: list[dict]) -> list[tuple[str, dict]]:
    """The answer's tool_use blocks as (name, arguments)."""
    calls = [(b.get("name"), b.get("input")) for b in content if b.get("type") == "tool_use"]
    if not all(isinstance(n, str) and isinstance(a, dict) for n, a in calls):
        raise MalformedResponse("a tool_use block without a name or an input object")
    return calls  # type: ignore[return-value]
