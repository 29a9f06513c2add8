"""YAML parsing with the C loader, errors as one line with file and line, results cached by blob sha.

A cached result is never handed out itself: every caller gets its own copy, so nothing a caller
does to its data (a template, a case) can change what the next caller reads.
"""

from __future__ import annotations

from typing import Any

import yaml

from promptvc.errors import UserError

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_CACHE: dict[tuple[str, int], Any] = {}


def parse_yaml(text: str, path: str, *, first_line: int = 1, cache_key: str | None = None) -> Any:
    """Parse YAML; an error names the file and the line counted from the top of the file."""
    key = (cache_key, first_line) if cache_key else None
    if key and key in _CACHE:
        return _fresh(_CACHE[key])
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML: {problem}", path=path, line=line) from None
    if key:
        _CACHE[key] = data
        return _fresh(data)
    return data


def _fresh(value: Any) -> Any:
    """A copy of the containers of a parsed document; the scalars YAML makes are immutable.

    Much cheaper than copy.deepcopy, which matters: an example set is read once per rendered case.
    """
    kind = type(value)
    if kind is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if kind is list:
        return [_fresh(v) for v in value]
    if kind is set:
        return set(value)
    if kind is tuple:  # !!omap and !!pairs give (key, value) tuples
        return tuple(_fresh(v) for v in value)
    return value


def key_line(text: str, key: str, first_line: int = 1) -> int | None:
    """The line where a top-level key is written, for error messages."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        if line.startswith(f"{key}:") or line.startswith(f"{key} :"):
            return number
    return None
