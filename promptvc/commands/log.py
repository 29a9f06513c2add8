"""`promptvc log`: per-commit scores and their change from the parent, newest first."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from promptvc.workspace import Workspace


def run(names: tuple[str, ...], limit: int | None, rev: str, as_json: bool) -> int:
    from rich.text import Text

    from promptvc.evals.scoring import Status
    from promptvc.history import history, stored_evidence
    from promptvc.significance import paired_json
    from promptvc.store import Store
    from promptvc.views.comparison import delta_piece, evidence_text
    from promptvc.views.eval import cache_json, cache_text
    from promptvc.views.terminal import Piece, emit, emit_pieces

    ws = Workspace.open()
    store = Store.for_reading(ws.db_path)  # only reads: works on a read-only database
    rev, names = _revision_or_names(ws, store, rev, names, limit)
    points = history(
        ws,
        store,
        rev,
        limit,
        names,
        on_warning=lambda message: print(f"promptvc: warning: {message}", file=sys.stderr),
    )
    alpha = ws.settings.gate.alpha
    compared = {
        (p.commit.sha, set_id): (parent.set_key, point.set_key)
        for p in points
        for set_id, point in p.sets.items()
        if (parent := p.parent.get(set_id)) is not None and point.comparable(parent)
    }
    evidence = stored_evidence(store, compared.values())

    def figures(p, set_id: str):
        if not evidence:  # nothing compared was stored (a fresh clone): no lookups per point
            return None
        return evidence.get(compared.get((p.commit.sha, set_id), ("", "")))

    if as_json:
        print(
            json.dumps(
                [
                    {
                        "commit": p.commit.sha,
                        "subject": p.commit.subject,
                        "timestamp": p.commit.timestamp,
                        "sets": [
                            {
                                "id": s.set_id,
                                "set_key": s.set_key,
                                "score": s.score,
                                "status": s.status,
                                "provider": s.provider,
                                "source": s.source,
                                "endpoint": s.endpoint,
                                "delta": p.delta(s.set_id),
                                "paired": paired_json(figures(p, s.set_id), alpha),
                                "cache": cache_json(s.cache),
                                "route": s.route.as_dict() if s.route else None,
                            }
                            for s in p.sets.values()
                        ],
                    }
                    for p in points
                ],
                indent=2,
            )
        )
        return 0
    if not points:
        emit([Text("no commits touch prompts/, evals/ or promptvc.toml yet", style="dim")])
        return 0
    width = max((len(s) for p in points for s in p.sets), default=0)
    lines: list[list[Piece | Text]] = []
    for p in points:
        date = datetime.fromtimestamp(p.commit.timestamp, UTC).strftime("%Y-%m-%d")
        # The whole line yellow as git colours a commit line, its date dimmed.
        lines.append(
            [(p.commit.short, "yellow"), (f" {date} ", "yellow dim"), (p.commit.subject, "yellow")]
        )
        for set_id, point in sorted(p.sets.items()):
            row: list[Piece | Text] = [(f"    {set_id:<{width}}  ", "")]
            if point.evaluated:
                row.append((f"{point.score:.2f}  ", ""))
                found = figures(p, set_id)
                if found is not None and found.first is not None:
                    row.append(evidence_text(found, alpha))
                else:
                    row.append(delta_piece(p.delta(set_id)))
                row.append(
                    (f"  {point.passed}/{point.cases} passed · {point.provider_label}", "dim")
                )
                if point.cache:
                    row.append((f" · cache: {cache_text(point.cache)}", "dim"))
                if point.route:
                    row.append((f" · {point.route.text}", "dim"))
                parent = p.parent.get(set_id)
                if parent is not None and parent.evaluated and not point.comparable(parent):
                    row.append((f" (parent: {parent.provider}, not compared)", "dim"))
            else:
                row.append((Status.NOT_EVALUATED, "dim"))
            lines.append(row)
    emit_pieces(lines, pager=True)
    return 0


def _revision_or_names(
    ws: Workspace, store, rev: str, names: tuple[str, ...], limit: int | None
) -> tuple[str, tuple[str, ...]]:
    """`log feature` as git users type it: a lone argument that names no set or prompt but is a
    revision is the revision. A name that is neither is an error with the closest names."""
    from promptvc.history import history
    from promptvc.names import as_name, matches, require_matches

    if ws.repo.try_resolve(rev) is None:
        if rev == "HEAD":
            return rev, ()  # no commits yet: nothing to name
        ws.repo.resolve(rev)  # the one-line error for an unknown revision
    names = tuple(as_name(n, ws.settings.prompts_dir) for n in names)
    if not names:
        return rev, names
    known = {
        name
        for p in history(ws, store, rev, limit)
        for s in p.sets.values()
        for name in (s.set_id, s.prompt)
    }
    if len(names) == 1 and rev == "HEAD" and not any(matches(k, names[0]) for k in known):
        if ws.repo.try_resolve(names[0]) is not None:
            return names[0], ()
    require_matches(names, known, "golden set or prompt in this history")
    return rev, names
