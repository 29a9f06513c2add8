"""Finding a provider by name: the entry-point group `promptvc.providers`.

promptvc's own providers are registered there too (pyproject.toml), and also named below, so that
the common names resolve without reading every installed package's metadata (the hook's start-up
time), and so that a source checkout that was never installed still finds them. Entry points are
read only for a name that is not built in, and once.
"""

from __future__ import annotations

import importlib
from functools import cache

from promptvc.errors import UserError
from promptvc.providers import PROVIDERS, Provider

GROUP = "promptvc.providers"

BUILTIN = {
    "anthropic": "promptvc.providers:AnthropicProvider",
    "echo": "promptvc.providers:EchoProvider",
    "replay": "promptvc.providers:ReplayProvider",
    "openai": "promptvc.providers.openai_compat:OpenAIProvider",
    "bedrock": "promptvc.providers.claude_clouds:BedrockProvider",
    "vertex": "promptvc.providers.claude_clouds:VertexProvider",
}


def find_provider(name: str) -> type[Provider]:
    if name in PROVIDERS:
        return PROVIDERS[name]
    target = BUILTIN.get(name) or plugins().get(name)
    if target is None:
        raise UserError(f"unknown provider '{name}' (installed: {', '.join(installed())})")
    cls = _load(name, target)
    PROVIDERS[name] = cls
    return cls


def installed() -> list[str]:
    """The names a tier may give as `provider:`: built-in and plugin providers that call a model."""
    names = set(BUILTIN) | set(plugins())
    return sorted(n for n in names if n not in ("echo", "replay"))


@cache
def plugins() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def _load(name: str, target: str) -> type[Provider]:
    module_name, _, attribute = target.partition(":")
    try:
        loaded = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"provider '{name}' ({target}) does not load: {exc}") from None
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise UserError(f"provider '{name}' ({target}) is not a promptvc.providers.Provider")
    loaded.name = name  # the name it is installed under is the name tiers use
    return loaded
