"""`promptvc responses export/import`: move recorded responses between machines (replay in CI)."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

from promptvc.errors import UserError
from promptvc.jsonlines import json_objects
from promptvc.wording import plural
from promptvc.workspace import Workspace

FORMAT = "promptvc.responses/1"


def export(path: str) -> int:
    from promptvc.store import Store
    from promptvc.views.reportfile import check_path, open_for_writing

    if path != "-":
        check_path(path)
    store = Store.for_reading(Workspace.open().db_path)
    count = 0
    with nullcontext(sys.stdout) if path == "-" else open_for_writing(path) as out:
        out.write(json.dumps({"format": FORMAT}) + "\n")
        for row in store.export_responses():
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        out.flush()  # stdout is only wrapped, not closed, so nothing else would flush it before the count
    print(f"exported {plural(count, 'response')}", file=sys.stderr)
    return 0


def import_(path: str) -> int:
    from promptvc.evaluation.request import ask_key_of
    from promptvc.store import RESPONSE_COLUMNS, Store

    source = Path(path)
    if path != "-" and not source.exists():
        raise UserError("no such file", path=path)
    rows = []
    with nullcontext(sys.stdin) if path == "-" else source.open(encoding="utf-8") as f:
        for number, row in json_objects(f, path):
            if number == 1 and row.get("format"):
                if row["format"] != FORMAT:
                    raise UserError(f"unknown format {row['format']!r}", path=path, line=1)
                continue
            if not isinstance(row.get("key"), str) or "text" not in row:
                raise UserError(
                    "not a recorded response (needs key and text)", path=path, line=number
                )
            ask_key = ask_key_of(row["request"]) if isinstance(row.get("request"), str) else None
            rows.append(
                {c: row.get(c) for c in RESPONSE_COLUMNS}
                | {"source": "import", "ask_key": ask_key or row.get("ask_key")}
            )
    store = Store(Workspace.open().db_path)
    before = store.response_count()
    store.save_responses(rows)
    added = store.response_count() - before
    print(f"imported {plural(added, 'response')} ({len(rows) - added} already present)")
    return 0
