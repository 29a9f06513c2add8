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


def push(remote: str) -> int:
    from promptvc.git.remotes import check_remote
    from promptvc.responseshare import RESPONSES_REF, push_responses
    from promptvc.store import Store

    ws = Workspace.open()
    check_remote(ws.repo, remote)
    moved = push_responses(ws.repo, Store.for_reading(ws.db_path), remote)
    if moved.count:
        print(f"pushed {plural(moved.count, 'response')} to {remote} ({RESPONSES_REF})")
    elif not moved.present:
        print("no recorded responses to push (an eval against a model records them)")
    else:
        print(f"nothing new to push: {remote} has every recorded response")
    if moved.unshareable:
        print(
            f"promptvc: warning: {plural(moved.unshareable, 'response')} with a key that is not a "
            "hex digest stayed local",
            file=sys.stderr,
        )
    return 0


def fetch(remote: str) -> int:
    from promptvc.git.remotes import check_remote
    from promptvc.responseshare import RESPONSES_REF, fetch_responses
    from promptvc.store import Store

    ws = Workspace.open()
    check_remote(ws.repo, remote)
    moved = fetch_responses(ws.repo, Store(ws.db_path), remote)
    if not moved.remote_had_ref:
        print(f"{remote} has no recorded responses yet ({RESPONSES_REF}); nothing to fetch")
    else:
        print(
            f"fetched {plural(moved.count, 'response')} from {remote} ({moved.present} already here)"
        )
    if moved.oversized:
        print(
            f"promptvc: {plural(moved.oversized, 'blob')} larger than a recorded response may be, "
            "not read",
            file=sys.stderr,
        )
    return 0
