"""`promptvc.toml`: paths, evaluation defaults and the gate policy. Every key is optional."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from promptvc.errors import UserError

CONFIG_FILE = "promptvc.toml"


@dataclass(frozen=True)
class GatePolicy:
    max_drop: float = 0.05
    # "temperature-zero": a flip blocks only where it cannot be sampling noise.
    block_on_flip: str = "temperature-zero"
    offline: str = "warn"
    deadline: float = 120.0    # seconds for the whole check; then "could not evaluate"


@dataclass(frozen=True)
class Settings:
    prompts_dir: str = "prompts"
    evals_dir: str = "evals"
    db_path: str = ".promptvc/promptvc.db"
    provider: str = "auto"
    concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 4
    retry_after_cap: float = 30.0
    request_deadline: float = 90.0   # one request: every attempt and wait together
    spend_cap: float = 1.0
    gate: GatePolicy = field(default_factory=GatePolicy)

    @property
    def watched_paths(self) -> list[str]:
        """What a snapshot reads, and what makes a commit interesting."""
        return [self.prompts_dir, self.evals_dir, CONFIG_FILE]


_SECTIONS = {
    "paths": {"prompts": "prompts_dir", "evals": "evals_dir", "db": "db_path"},
    "eval": {
        "provider": "provider", "concurrency": "concurrency", "timeout": "timeout",
        "max_retries": "max_retries", "retry_after_cap": "retry_after_cap", "spend_cap": "spend_cap",
        "deadline": "request_deadline",
    },
}
_GATE_KEYS = {f.name for f in fields(GatePolicy)}


def load_settings(root: Path) -> Settings:
    path = root / CONFIG_FILE
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"invalid TOML: {exc}", path=CONFIG_FILE) from None
    values: dict = {}
    for section, table in data.items():
        if section == "gate":
            values["gate"] = _gate_policy(table)
            continue
        known = _SECTIONS.get(section)
        if known is None or not isinstance(table, dict):
            raise UserError(f"unknown section [{section}]", path=CONFIG_FILE)
        for key, value in table.items():
            if key not in known:
                raise UserError(f"unknown key '{key}' in [{section}]", path=CONFIG_FILE)
            values[known[key]] = value
    settings = Settings(**values)
    _validate(settings)
    return settings


def _gate_policy(table: dict) -> GatePolicy:
    unknown = set(table) - _GATE_KEYS
    if unknown:
        raise UserError(f"unknown key '{sorted(unknown)[0]}' in [gate]", path=CONFIG_FILE)
    flip = table.get("block_on_flip", "temperature-zero")
    if isinstance(flip, bool):
        flip = "always" if flip else "never"
    return GatePolicy(
        max_drop=float(table.get("max_drop", 0.05)),
        block_on_flip=str(flip),
        offline=str(table.get("offline", "warn")),
        deadline=_seconds(table.get("deadline", 120.0), "[gate] deadline"),
    )


def _seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(f"{name} must be a positive number of seconds", path=CONFIG_FILE)
    return float(value)


def _validate(s: Settings) -> None:
    if s.provider not in ("auto", "anthropic", "echo", "replay"):
        raise UserError(f"unknown provider '{s.provider}' in [eval]", path=CONFIG_FILE)
    if s.gate.offline not in ("warn", "block"):
        raise UserError("[gate] offline must be \"warn\" or \"block\"", path=CONFIG_FILE)
    if s.gate.block_on_flip not in ("temperature-zero", "always", "never"):
        raise UserError("[gate] block_on_flip must be true, false or \"temperature-zero\"", path=CONFIG_FILE)
    _seconds(s.request_deadline, "[eval] deadline")
    if not isinstance(s.concurrency, int) or s.concurrency < 1:
        raise UserError("[eval] concurrency must be a positive integer", path=CONFIG_FILE)
