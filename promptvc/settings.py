"""`promptvc.toml`: paths, evaluation defaults and the gate policy. Every key is optional."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Literal

from promptvc.errors import UserError

CONFIG_FILE = "promptvc.toml"


BlockOn = Literal["evidence", "any-drop"]


@dataclass(frozen=True)
class GatePolicy:
    max_drop: float = 0.05
    safety_max_drop: float = 0.0  # max_drop for golden sets of `kind: safety`
    # "evidence": a flip blocks when it reproduces, a drop when it is significant (and >= max_drop);
    # "any-drop": a mean drop beyond max_drop blocks, and a flip as block_on_flip says.
    block_on: BlockOn = "evidence"
    alpha: float = 0.05  # how often a commit that changes nothing real may be blocked
    max_repeat: int = 8  # fresh samples per side for a flipped case (0: never re-sample)
    # For block_on = "any-drop" only. "temperature-zero": a flip blocks where it cannot be
    # sampling noise.
    block_on_flip: str = "temperature-zero"
    offline: str = "warn"
    # "when-worse": a set already below its threshold blocks only when the commit makes it worse.
    block_below_threshold: str = "when-worse"
    deadline: float = 120.0  # seconds for the whole check; then "could not evaluate"
    # What llm-rubric scores from a judge below [judge] min_kappa (or not calibrated) do to a commit.
    unverified_judge: str = "warn"


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
    request_deadline: float = 90.0  # one request: every attempt and wait together
    spend_cap: float = 1.0
    gate: GatePolicy = field(default_factory=GatePolicy)
    min_kappa: float | None = None  # the judge's agreement with people's labels it must reach

    @property
    def watched_paths(self) -> list[str]:
        """What a snapshot reads, and what makes a commit interesting."""
        return [self.prompts_dir, self.evals_dir, CONFIG_FILE]


_SECTIONS = {
    "paths": {"prompts": "prompts_dir", "evals": "evals_dir", "db": "db_path"},
    "eval": {
        "provider": "provider",
        "concurrency": "concurrency",
        "timeout": "timeout",
        "max_retries": "max_retries",
        "retry_after_cap": "retry_after_cap",
        "spend_cap": "spend_cap",
        "deadline": "request_deadline",
    },
    "judge": {"min_kappa": "min_kappa"},
}
_GATE_KEYS = {f.name for f in fields(GatePolicy)}


def load_settings(root: Path) -> Settings:
    path = root / CONFIG_FILE
    if not path.exists():
        return Settings()
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"invalid TOML: {exc}", path=CONFIG_FILE) from None
    except RecursionError:
        raise UserError("invalid TOML: nested too deeply", path=CONFIG_FILE) from None
    values: dict = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise UserError(
                f"'{section}' must be a table ([{section}])",
                path=CONFIG_FILE,
                line=_line_of(text, None, section),
            )
        if section == "gate":
            values["gate"] = _gate_policy(table, text)
            continue
        known = _SECTIONS.get(section)
        if known is None:
            raise UserError(
                f"unknown section [{section}]", path=CONFIG_FILE, line=_line_of(text, None, section)
            )
        for key, value in table.items():
            if key not in known:
                raise UserError(
                    f"unknown key '{key}' in [{section}]",
                    path=CONFIG_FILE,
                    line=_line_of(text, section, key),
                )
            _check_value(section, key, value, text)
            values[known[key]] = value
    settings = Settings(**values)
    _validate(settings)
    return settings


# [section] key -> (what it must be, its check); a bool is never a number here.
_NUMBER = (int, float)
_CHECKS = {
    ("paths", "prompts"): ("a folder inside the repository", lambda v: _inside(v)),
    ("paths", "evals"): ("a folder inside the repository", lambda v: _inside(v)),
    ("paths", "db"): ("a path", lambda v: isinstance(v, str) and v.strip() != ""),
    ("eval", "provider"): ("a provider name", lambda v: isinstance(v, str)),
    ("eval", "concurrency"): ("a positive integer", lambda v: type(v) is int and v >= 1),
    ("eval", "timeout"): (
        "a positive number of seconds",
        lambda v: type(v) in _NUMBER and 0 < v < float("inf"),
    ),
    ("eval", "deadline"): (
        "a positive number of seconds",
        lambda v: type(v) in _NUMBER and 0 < v < float("inf"),
    ),
    ("gate", "deadline"): (
        "a positive number of seconds",
        lambda v: type(v) in _NUMBER and 0 < v < float("inf"),
    ),
    ("eval", "max_retries"): ("an integer from 0", lambda v: type(v) is int and v >= 0),
    ("eval", "retry_after_cap"): (
        "a number of seconds from 0",
        lambda v: type(v) in _NUMBER and 0 <= v < float("inf"),
    ),
    ("eval", "spend_cap"): (
        "an amount in USD from 0",
        lambda v: type(v) in _NUMBER and 0 <= v < float("inf"),
    ),
    ("gate", "max_drop"): ("a number from 0 to 1", lambda v: type(v) in _NUMBER and 0 <= v <= 1),
    ("gate", "safety_max_drop"): (
        "a number from 0 to 1",
        lambda v: type(v) in _NUMBER and 0 <= v <= 1,
    ),
    ("gate", "block_on_flip"): (
        'true, false or "temperature-zero"',
        lambda v: isinstance(v, bool) or v in ("temperature-zero", "always", "never"),
    ),
    ("gate", "offline"): ('"warn" or "block"', lambda v: v in ("warn", "block")),
    ("gate", "block_on"): ('"evidence" or "any-drop"', lambda v: v in ("evidence", "any-drop")),
    ("gate", "alpha"): ("a number between 0 and 1", lambda v: type(v) in _NUMBER and 0 < v < 1),
    ("gate", "max_repeat"): (
        "an integer from 0 to 100",
        lambda v: type(v) is int and 0 <= v <= 100,
    ),
    ("gate", "unverified_judge"): ('"warn" or "block"', lambda v: v in ("warn", "block")),
    ("judge", "min_kappa"): (
        "a number from -1 to 1 (Cohen's kappa)",
        lambda v: type(v) in _NUMBER and -1 <= v <= 1,
    ),
    ("gate", "block_below_threshold"): (
        '"when-worse" or "always"',
        lambda v: v in ("when-worse", "always"),
    ),
}


def _inside(value) -> bool:
    """A relative path that stays inside the repository: git reads nothing outside it."""
    if not isinstance(value, str) or not value.strip():
        return False
    parts = PurePosixPath(value.replace("\\", "/")).parts
    return not value.startswith(("/", "~")) and ".." not in parts and parts != (".",)


def _check_value(section: str, key: str, value, text: str) -> None:
    must, ok = _CHECKS.get((section, key), ("", lambda v: True))
    if not ok(value):
        raise UserError(
            f"[{section}] {key} must be {must}, not {value!r}"[:200],
            path=CONFIG_FILE,
            line=_line_of(text, section, key),
        )


def _line_of(text: str, section: str | None, key: str) -> int | None:
    """Where `key` is set (in [section]), or where [key] opens, for error messages."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip()
            if section is None and current == key:
                return number
        elif current == section and stripped.split("=", 1)[0].strip().strip("\"'") == key:
            return number
    return None


def _gate_policy(table: dict, text: str) -> GatePolicy:
    unknown = set(table) - _GATE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise UserError(
            f"unknown key '{key}' in [gate]", path=CONFIG_FILE, line=_line_of(text, "gate", key)
        )
    for key, value in table.items():
        _check_value("gate", key, value, text)
    flip = table.get("block_on_flip", "temperature-zero")
    if isinstance(flip, bool):
        flip = "always" if flip else "never"
    return GatePolicy(
        max_drop=float(table.get("max_drop", 0.05)),
        safety_max_drop=float(table.get("safety_max_drop", 0.0)),
        block_on=table.get("block_on", "evidence"),
        alpha=float(table.get("alpha", 0.05)),
        max_repeat=int(table.get("max_repeat", 8)),
        block_on_flip=str(flip),
        offline=str(table.get("offline", "warn")),
        block_below_threshold=str(table.get("block_below_threshold", "when-worse")),
        deadline=_seconds(table.get("deadline", 120.0), "[gate] deadline"),
        unverified_judge=str(table.get("unverified_judge", "warn")),
    )


def _seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(f"{name} must be a positive number of seconds", path=CONFIG_FILE)
    return float(value)


def _validate(s: Settings) -> None:
    if s.provider not in ("auto", "anthropic", "live", "echo", "replay"):
        raise UserError(f"unknown provider '{s.provider}' in [eval]", path=CONFIG_FILE)
    _seconds(s.request_deadline, "[eval] deadline")
