"""OpenAI-compatible chat completions: OpenAI itself, vLLM, Ollama, llama.cpp's server, Gemini's
OpenAI-compatible endpoint. The canonical request (Messages-API shaped, as it is keyed) becomes a
chat-completions body here; the SDK is imported only when a request is sent (openai_api)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from promptvc.evals.toolcalls import tool_calls_output
from promptvc.evaluation.request import ModelRequest, response_format
from promptvc.providers import (
    Connection,
    MalformedResponse,
    Provider,
    ProviderOptions,
    Response,
    key_from,
    public_endpoint,
)

OPENAI_URL = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
# Chat-completions names for the canonical request's parameters; any other goes in the body as is.
RENAMED = {"stop_sequences": "stop"}
# Not chat-completions parameters: vLLM and llama.cpp take top_k; OpenAI would reject it.
EXTRA_BODY = {"top_k"}
DROPPED = {"metadata", "thinking"}  # Messages-API only


class OpenAIProvider(Provider):
    """Chat completions through the official openai SDK (the `openai` extra)."""

    name = "openai"
    requires = ("openai", "openai")

    def __init__(self, options: ProviderOptions, connection: Connection | None = None):
        super().__init__(options, connection)
        self.check_installed()
        from promptvc.providers.openai_api import ChatClient

        key = key_from(self.connection, KEY_ENV) or "none"  # `api_key_env: null`: a local server
        self.api = ChatClient(options, self.base_url(self.connection), key)

    @classmethod
    def base_url(cls, connection: Connection) -> str:
        return str(connection.get("base_url") or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL)

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        return public_endpoint(cls.base_url(connection))

    @classmethod
    def has_key(cls, connection: Connection) -> bool:
        name = connection.get("api_key_env", KEY_ENV)
        return name is None or bool(os.environ.get(str(name)))

    @classmethod
    def require_key(cls, connection: Connection) -> None:
        key_from(connection, KEY_ENV)

    @classmethod
    def known_price(cls, connection: Connection, model: str) -> tuple[float, float] | None:
        """A server on this machine or the local network costs nothing per token, unless the tier
        sets a price; any other endpoint is priced by the built-in table."""
        return (0.0, 0.0) if is_local(cls.endpoint_of(connection)) else None

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        return await self.api.complete(request, before_send)

    async def close(self) -> None:
        await self.api.close()


def is_local(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".internal", ".localhost")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def chat_body(request: ModelRequest) -> dict:
    """The chat-completions body: the system text as the first message, then the turns (no cache
    breakpoints: OpenAI-compatible endpoints cache long prefixes by themselves)."""
    payload = request.payload(breakpoints=False)
    messages = [{"role": "system", "content": payload.pop("system")}] if "system" in payload else []
    messages += payload.pop("messages")
    body: dict = {"model": payload.pop("model"), "messages": messages}
    extra = {}
    for key, value in payload.items():
        if key in DROPPED:
            continue
        if key in EXTRA_BODY:
            extra[key] = value
        elif key == "tools":
            body["tools"] = [_tool(t) for t in value]
        elif key == "tool_choice":
            body["tool_choice"] = _tool_choice(value)
        elif key == "output_config":  # structured output, asked the chat-completions way
            form = response_format(request)
            if form is not None:
                body["response_format"] = form
            if value.get("effort") in ("low", "medium", "high"):
                body["reasoning_effort"] = value["effort"]
        else:
            body[RENAMED.get(key, key)] = value
    if extra:
        body["extra_body"] = extra
    return body


def _tool(tool: dict) -> dict:
    """A Messages-API tool ({name, description, input_schema}) as a function tool; one already in
    the OpenAI shape ({type: function, ...}) is sent as it is."""
    if tool.get("type") == "function":
        return tool
    function = {"name": tool["name"], "parameters": tool.get("input_schema", {"type": "object"})}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice):
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return "required" if kind == "any" else kind


def parse_completion(body, requested_model: str, latency_ms: float) -> Response:
    """A chat-completions body as a Response; `finish_reason: length` is a truncation."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise MalformedResponse("not a chat completion (no choices)")
    if not body["choices"] or not isinstance(body["choices"][0], dict):
        raise MalformedResponse("a chat completion without a choice")
    choice = body["choices"][0]
    message = choice.get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    if not (text is None or isinstance(text, str)):
        raise MalformedResponse("the message's content is not text")
    usage = body.get("usage") or {}
    if not isinstance(usage, dict):
        raise MalformedResponse("usage is not an object")
    tokens = [usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0]
    if not all(type(n) is int and n >= 0 for n in tokens):
        raise MalformedResponse(f"token counts are not numbers ({tokens[0]!r}, {tokens[1]!r})")
    cached = _cached_tokens(usage, tokens[0])
    model, finish = body.get("model") or requested_model, choice.get("finish_reason")
    if not isinstance(model, str) or not (finish is None or isinstance(finish, str)):
        raise MalformedResponse("model or finish_reason is not a string")
    calls = _tool_calls(message)
    if calls:
        text = tool_calls_output(text or "", calls)
    return Response(text or "", model, finish, tokens[0] - cached, tokens[1], latency_ms, 0, cached)


def _cached_tokens(usage: dict, prompt_tokens: int) -> int:
    """The prompt tokens the endpoint read from its own prompt cache (OpenAI caches long prefixes
    by itself and ignores cache breakpoints); counted apart, as the Messages API counts them."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if type(cached) is not int or cached < 0:
        return 0
    return min(cached, prompt_tokens)


def _tool_calls(message: dict) -> list[tuple[str, dict]]:
    """The message's function calls as (name, arguments), stored as Anthropic's tool_use are."""
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MalformedResponse("a tool call without a function name")
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (json.JSONDecodeError, RecursionError):
            raise MalformedResponse("a tool call whose arguments are not JSON") from None
        if not isinstance(arguments, dict):
            raise MalformedResponse("a tool call whose arguments are not an object")
        calls.append((function["name"], arguments))
    return calls
