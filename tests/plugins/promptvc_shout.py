"""A promptvc provider plugin, complete: it answers each request with its last user message in
capitals. Installed beside promptvc, it is named in tiers.yaml as `provider: shout`."""

from __future__ import annotations

from promptvc.providers import Connection, Provider, Response


class ShoutProvider(Provider):
    name = "shout"

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        return str(connection.get("base_url") or "local:shout")  # part of every cache key

    @classmethod
    def has_key(cls, connection: Connection) -> bool:
        return True  # nothing to authenticate

    @classmethod
    def known_price(cls, connection: Connection, model: str) -> tuple[float, float] | None:
        return (0.0, 0.0)  # USD per million input and output tokens

    async def complete(self, request, before_send=None) -> Response:
        if before_send is not None:
            before_send()  # the last look in the cache, right before sending
        role, text = request.messages[-1]
        answer = text.upper()
        tokens_in = len(request.plain()) // 4
        return Response(answer, request.model, "end_turn", tokens_in, len(answer) // 4, 0.0)
