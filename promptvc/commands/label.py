"""`promptvc label SET`: score a golden set's stored outputs by hand, for `judge calibrate`."""

from __future__ import annotations

from promptvc.git.snapshot import WORKTREE
from promptvc.wording import plural
from promptvc.workspace import Workspace


def run(set_name: str, rev: str | None) -> int:
    from promptvc.labelling import LabelSession, label_work
    from promptvc.store import Store

    ws = Workspace.open()
    where = ws.resolve(rev) if rev else WORKTREE
    store = Store.for_reading(ws.db_path)
    try:
        work = label_work(ws, store, where, set_name)
    finally:
        store.close()
    if not work.items:
        print(
            f"every stored output of {work.set_id} is labelled already ({work.already} in {work.path})"
        )
        return 0
    from promptvc.tui.labelscreen import LabelApp

    kept = LabelApp(LabelSession(work, ws.root, ws.repo.user_name())).run() or 0
    print(f"{plural(kept, 'label')} added to {work.path}")
    return 0
