"""`promptvc log`: per-commit scores and their change from the parent, newest first."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from promptvc.workspace import Workspace


def run(names: tuple[str, ...], limit: int | None, rev: str, as_json: bool) -> int:
    from rich.text import Text

    from promptvc.views.comparison import delta_text
    from promptvc.history import history
    from promptvc.views.terminal import emit
    from promptvc.store import Store

    ws = Workspace.open()
    ws.repo.resolve(rev)
    store = Store(ws.db_path)
    points = history(ws, store, rev, limit, names, on_warning=lambda message: print(
        f"promptvc: warning: {message}", file=sys.stderr))
    if as_json:
        print(json.dumps([{
            "commit": p.commit.sha, "subject": p.commit.subject, "timestamp": p.commit.timestamp,
            "sets": [{"id": s.set_id, "set_key": s.set_key, "score": s.score, "status": s.status,
                      "provider": s.provider, "delta": p.delta(s.set_id)} for s in p.sets.values()],
        } for p in points], indent=2))
        return 0
    if not points:
        emit([Text("no commits touch prompts/, evals/ or promptvc.toml yet", style="dim")])
        return 0
    width = max((len(s) for p in points for s in p.sets), default=0)
    lines = []
    for p in points:
        date = datetime.fromtimestamp(p.commit.timestamp, timezone.utc).strftime("%Y-%m-%d")
        head = Text(p.commit.short, style="yellow") + Text(f" {date} ", style="dim") + Text(p.commit.subject)
        lines.append(head)
        for set_id, point in sorted(p.sets.items()):
            row = Text(f"    {set_id:<{width}}  ")
            if point.evaluated:
                row.append(f"{point.score:.2f}  ")
                row.append_text(delta_text(p.delta(set_id)))
                row.append(f"  {point.passed}/{point.cases} passed · {point.provider}", style="dim")
            else:
                row.append("not evaluated", style="dim")
            lines.append(row)
    emit(lines, pager=True)
    return 0
