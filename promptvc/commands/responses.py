"""`promptvc responses export/import`: move recorded responses between machines (replay in CI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from promptvc.errors import UserError
from promptvc.jsonlines import json_objects
from promptvc.workspace import Workspace

FORMAT = "promptvc.responses/1"


def export(path: str) -> int:
    from promptvc.store import Store
    store = Store(Workspace.open().db_path)
    out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")
    count = 0
    with out if path != "-" else _keep_open(out):
        out.write(json.dumps({"format": FORMAT}) + "\n")
        for row in store.export_responses():
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    print(f"exported {count} responses", file=sys.stderr)
    return 0


def import_(path: str) -> int:
    from promptvc.evaluation.request import ask_key_of
    from promptvc.store import RESPONSE_COLUMNS, Store
    source = Path(path)
    if not source.exists():
        raise UserError("no such file", path=path)
    rows = []
    with source.open(encoding="utf-8") as f:
        for number, row in json_objects(f, path):
            if number == 1 and row.get("format"):
                if row["format"] != FORMAT:
                    raise UserError(f"unknown format {row['format']!r}", path=path, line=1)
                continue
            if not isinstance(row.get("key"), str) or "text" not in row:
                raise UserError("not a recorded response (needs key and text)", path=path, line=number)
            ask_key = ask_key_of(row["request"]) if isinstance(row.get("request"), str) else None
            rows.append({c: row.get(c) for c in RESPONSE_COLUMNS} | {"source": "import",
                                                                     "ask_key": ask_key or row.get("ask_key")})
    store = Store(Workspace.open().db_path)
    before = store.db["responses"].count
    store.save_responses(rows)
    added = store.db["responses"].count - before
    print(f"imported {added} responses ({len(rows) - added} already present)")
    return 0


class _keep_open:
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        self.stream.flush()
