"""YAML parsing with the C loader, errors as one line with file and line, results cached by blob sha."""

from __future__ import annotations

from typing import Any

import yaml

from promptvc.errors import UserError

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

def parse_yaml(text: str, path: str, *, first_line: int = 1, cache_key: str | None = None,
               cache: Any = None) -> Any:
    """Parse YAML; an error names the file and the line counted from the top of the file.
    With a cache (a snapshot's `caches.yaml`) and a key (the blob sha), parsed once per blob."""
    key = (cache_key, first_line) if cache_key and cache is not None else None
    if key and key in cache:
        return cache[key]
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML: {problem}", path=path, line=line) from None
    if key:
        cache[key] = data
    return data


def key_line(text: str, key: str, first_line: int = 1) -> int | None:
    """The line where a top-level key is written, for error messages."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        if line.startswith(f"{key}:") or line.startswith(f"{key} :"):
            return number
    return None
