"""Claude through Amazon Bedrock and Google Cloud Vertex AI: the anthropic SDK's own clients,
sent the same request body as the first-party API (the SDK moves the model into the URL)."""

from __future__ import annotations

import os
from collections.abc import Callable

from promptvc.errors import UserError
from promptvc.evaluation.request import ModelRequest
from promptvc.providers import (
    Connection,
    Provider,
    ProviderOptions,
    Response,
    public_endpoint,
    require_extra,
)


class _ClaudeCloud(Provider):
    token_env: str  # the variable a bearer token is read from (a tier's `api_key_env` instead)
    region_env: tuple[str, ...]
    credential_envs: tuple[str, ...]  # any of these set means the cloud's own credentials

    def __init__(self, options: ProviderOptions, connection: Connection | None = None):
        super().__init__(options, connection)
        from promptvc.providers import anthropic_api

        token = self._token()
        if token is None:
            require_extra(self.name, self.requires)  # signing without a token needs the library
        settings = dict(self.connection.settings)
        settings.setdefault("region", self.region_of(self.connection))
        connection = Connection(self.name, tuple(sorted(settings.items())))
        make = getattr(anthropic_api, self.name)
        self.api = anthropic_api.MessagesClient(options, make(options, connection, token))

    @classmethod
    def region_of(cls, connection: Connection) -> str | None:
        return connection.get("region") or next(
            (os.environ[e] for e in cls.region_env if os.environ.get(e)), None
        )

    @classmethod
    def has_key(cls, connection: Connection) -> bool:
        names = (cls._token_name(connection), *cls.credential_envs)
        return any(name and os.environ.get(name) for name in names)

    @classmethod
    def _token_name(cls, connection: Connection) -> str | None:
        return connection.get("api_key_env", cls.token_env)

    def _token(self) -> str | None:
        name = self._token_name(self.connection)
        return os.environ.get(name) or None if name else None

    @classmethod
    def check_installed(cls) -> None:
        # A bearer token needs no cloud library: checked again when a client is made.
        return None

    async def complete(
        self, request: ModelRequest, before_send: Callable[[], None] | None = None
    ) -> Response:
        return await self.api.complete(request, before_send)

    async def close(self) -> None:
        await self.api.close()


class BedrockProvider(_ClaudeCloud):
    """Claude on Amazon Bedrock; the tier's `region` (or AWS_REGION) picks the endpoint."""

    name = "bedrock"
    requires = ("boto3", "bedrock")
    token_env = "AWS_BEARER_TOKEN_BEDROCK"
    region_env = ("AWS_REGION", "AWS_DEFAULT_REGION")
    credential_envs = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        if connection.get("base_url"):
            return public_endpoint(str(connection.get("base_url")))
        region = cls.region_of(connection) or "us-east-1"
        return f"https://bedrock-runtime.{region}.amazonaws.com"


class VertexProvider(_ClaudeCloud):
    """Claude on Vertex AI; the tier's `region` and `project` (or CLOUD_ML_REGION and
    ANTHROPIC_VERTEX_PROJECT_ID) pick the endpoint."""

    name = "vertex"
    requires = ("google.auth", "vertex")
    token_env = "VERTEX_ACCESS_TOKEN"
    region_env = ("CLOUD_ML_REGION",)
    credential_envs = ("GOOGLE_APPLICATION_CREDENTIALS",)

    def __init__(self, options: ProviderOptions, connection: Connection | None = None):
        connection = connection or Connection(self.name)
        settings = dict(connection.settings)
        settings.setdefault("project", os.environ.get("ANTHROPIC_VERTEX_PROJECT_ID"))
        super().__init__(options, Connection(self.name, tuple(sorted(settings.items()))))

    @classmethod
    def endpoint_of(cls, connection: Connection) -> str:
        if connection.get("base_url"):
            return public_endpoint(str(connection.get("base_url")))
        region = cls.region_of(connection)
        if not region:
            raise UserError(
                "the vertex provider needs a region (`region:` in the tier, or CLOUD_ML_REGION)"
            )
        project = connection.get("project") or os.environ.get("ANTHROPIC_VERTEX_PROJECT_ID", "")
        return f"https://{region}-aiplatform.googleapis.com/projects/{project}"
