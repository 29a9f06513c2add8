"""Model tiers (`prompts/tiers.yaml`) and a prompt's effective config."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptvc.errors import UserError
from promptvc.git.snapshot import Snapshot
from promptvc.prompts.capabilities import sendable
from promptvc.prompts.output_schema import OutputSchema
from promptvc.yamlfile import key_line, parse_yaml

TIERS_FILE = "tiers.yaml"
DEFAULT_TIER = "default"
JUDGE_TIER = "judge"

# Keys the Messages API takes, passed through to the request.
API_PARAMS = (
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "effort",  # how much the model thinks and writes; sent as output_config.effort
)
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Where a tier's requests go: its provider and the provider's settings (never sent as parameters).
CONNECTION_KEYS = ("provider", "base_url", "api_key_env", "region", "project")
TIER_KEYS = set(API_PARAMS) | {"price"} | set(CONNECTION_KEYS)


@dataclass(frozen=True)
class EffectiveConfig:
    tier: str | None
    params: dict  # what goes into the request (model, max_tokens, ...)
    sources: dict  # key -> where it came from ("tiers.yaml: fast", "front matter")
    price: dict | None = None
    output_schema: OutputSchema | None = None  # the structure the answer is asked for
    connection: dict = field(default_factory=dict)  # provider, base_url, ... (CONNECTION_KEYS)

    @property
    def model(self) -> str | None:
        return self.params.get("model")

    @property
    def temperature(self) -> float:
        """The temperature the model samples at: the API's default 1.0 where none is sent."""
        return float(sendable(self.model, self.params).get("temperature", 1.0))


def tiers_path(prompts_dir: str) -> str:
    return f"{prompts_dir}/{TIERS_FILE}"


def load_tiers(snapshot: Snapshot, prompts_dir: str) -> dict[str, dict]:
    path = tiers_path(prompts_dir)
    if path not in snapshot:
        return {}
    text = snapshot.read_text(path)
    data = (
        parse_yaml(text, path, cache_key=snapshot.files[path].sha, cache=snapshot.caches.yaml) or {}
    )
    if not isinstance(data, dict):
        raise UserError("must map tier names to configs", path=path)
    for name, tier in data.items():
        if not isinstance(tier, dict):
            raise UserError(
                f"tier '{name}' must be a mapping", path=path, line=key_line(text, str(name))
            )
        unknown = set(tier) - TIER_KEYS
        if unknown:
            raise UserError(
                f"tier '{name}' has unknown key '{sorted(unknown)[0]}'",
                path=path,
                line=key_line(text, str(name)),
            )
        _check_connection(tier, f"tier '{name}'", path, key_line(text, str(name)))
        problem = effort_problem(tier.get("effort"))
        if problem:
            raise UserError(f"tier '{name}': {problem}", path=path, line=key_line(text, str(name)))
        if "price" in tier:
            _check_price(tier["price"], f"tier '{name}'", path, key_line(text, str(name)))
    return data


def effort_problem(effort: object) -> str | None:
    if effort is None or effort in EFFORTS:
        return None
    return f"effort must be one of {', '.join(EFFORTS)}, not {effort!r}"


def _check_price(price: object, what: str, path: str, line: int | None) -> None:
    problem = price_problem(price)
    if problem:
        raise UserError(f"{what}: {problem}", path=path, line=line)


def _check_connection(tier: dict, what: str, path: str, line: int | None) -> None:
    """Types only: which providers are installed is the providers' to say (`tier_error`)."""
    for key in CONNECTION_KEYS:
        value = tier.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{what}: {key} must be a string", path=path, line=line)


def price_problem(override: object) -> str | None:
    """What is wrong with a tier's `price:` (a mapping of numbers), or None."""
    if not isinstance(override, dict):
        return "price must be a mapping of input and output (USD per million tokens)"
    for key, value in override.items():
        if key not in ("input", "output"):
            return f"price has unknown key '{key}' (input, output)"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return f"price {key} must be a number of USD per million tokens, not {value!r}"
    return None


def tier_error(
    snapshot: Snapshot, prompts_dir: str, tier: str | None, error: UserError
) -> UserError:
    """An error about a tier's provider, placed at the tier in tiers.yaml."""
    path = tiers_path(prompts_dir)
    if tier is None or path not in snapshot:
        return error
    line = key_line(snapshot.read_text(path), tier)
    return UserError(f"tier '{tier}': {error.message}", path=path, line=line)


def effective_config(
    tier_name: str | None, overrides: dict, tiers: dict[str, dict], where: str
) -> EffectiveConfig:
    """The tier's config overridden by the prompt's own front matter."""
    if tier_name is None and DEFAULT_TIER in tiers:
        tier_name = DEFAULT_TIER
    params: dict = {}
    sources: dict = {}
    price = None
    connection: dict = {}
    if tier_name is not None:
        if tier_name not in tiers:
            known = ", ".join(sorted(tiers)) or "none defined"
            raise UserError(f"unknown tier '{tier_name}' (tiers: {known})", path=where)
        for key, value in tiers[tier_name].items():
            if key == "price":
                price = value
                continue
            if key in CONNECTION_KEYS:
                connection[key] = value
                continue
            params[key] = value
            sources[key] = f"{TIERS_FILE}: {tier_name}"
    for key, value in overrides.items():
        params[key] = value
        sources[key] = "front matter"
    return EffectiveConfig(tier_name, params, sources, price, connection=connection)
