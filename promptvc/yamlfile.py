"""YAML parsing with the C loader, errors as one line with file and line, results cached by blob sha."""

from __future__ import annotations

from typing import Any

import yaml

from promptvc.errors import UserError

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_CACHE: dict[tuple[str, int], Any] = {}


def parse_yaml(text: str, path: str, *, first_line: int = 1, cache_key: str | None = None) -> Any:
    """Parse YAML; an error names the file and the line counted from the top of the file."""
    key = (cache_key, first_line) if cache_key else None
    if key and key in _CACHE:
        return _CACHE[key]
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML: {problem}", path=path, line=line) from None
    if key:
        _CACHE[key] = data
    return data


def line_of(text: str, *steps: str | int, first_line: int = 1) -> int | None:
    """The line of the node that `steps` (mapping keys, sequence indexes) lead to, for an error
    message; a last step that is a key gives the key's own line. It composes the document, so it
    is called only when an error is being reported, never on the happy path."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = None
    for step in steps:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)]
            if not found:
                return None
            key, node = found[-1]  # a repeated key: the last one wins, as in the parsed data
            line = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line
        else:
            return None
    return None if line is None else line + first_line


def key_line(text: str, key: str, first_line: int = 1) -> int | None:
    """The line where a top-level key is written, for error messages."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        if line.startswith(f"{key}:") or line.startswith(f"{key} :"):
            return number
    return None
