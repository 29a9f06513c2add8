"""JSON Lines files (cases, recorded responses): one object a line, errors with their line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from promptvc.errors import UserError


def json_objects(lines: Iterable[str], path: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"invalid JSON: {exc.msg}", path=path, line=number) from None
        except RecursionError:
            raise UserError("invalid JSON: nested too deeply", path=path, line=number) from None
        if not isinstance(row, dict):
            raise UserError("each line must be a JSON object", path=path, line=number)
        yield number, row
