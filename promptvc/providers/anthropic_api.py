"""The Messages API through the official SDK: first-party, or Claude on Amazon Bedrock or Google
Cloud Vertex AI through the SDK's own clients, with the same request body. The only module that
imports anthropic."""

from __future__ import annotations

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

    async def close(self) -> None:
        await self.client.close()


def parse_message(data: bytes, requested_model: str, latency_ms: float) -> Response:
    """A Messages-API body as a Response, or MalformedResponse: a 200 that is not a message must
    fail one case, never the run, and never be cached."""
    body = load_json(data)
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
