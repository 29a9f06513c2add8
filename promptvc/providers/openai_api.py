"""Chat completions through the official openai SDK. The only module that imports openai."""

from __future__ import annotations

import openai

from promptvc.evaluation.request import ModelRequest
from promptvc.providers import ProviderOptions, Response
from promptvc.providers.openai_compat import chat_body, parse_completion
from promptvc.providers.retrying import RetryingClient, load_json


class ChatClient(RetryingClient):
    """One OpenAI-compatible endpoint: its own concurrency limit, promptvc's retries."""

    where = "the tier's `model:` and `base_url`"

    def __init__(self, options: ProviderOptions, base_url: str, key: str):
        super().__init__(options, openai)
        self.client = openai.AsyncOpenAI(
            api_key=key, base_url=base_url, timeout=options.timeout, max_retries=0
        )

    async def send(self, request: ModelRequest) -> bytes:
        # The raw body (the SDK's legacy raw response has read it already): no pydantic models.
        raw = await self.client.chat.completions.with_raw_response.create(**chat_body(request))
        return raw.content

    def parse(self, data: bytes, requested_model: str, latency_ms: float) -> Response:
        return parse_completion(load_json(data), requested_model, latency_ms)

    async def close(self) -> None:
        await self.client.close()
