"""`promptvc tui`: the history browser."""

from __future__ import annotations

from promptvc.workspace import Workspace


def run(rev: str) -> int:
    ws = Workspace.open()  # not a git repository: one line and exit 2, before the screen opens
    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser

    PromptvcApp(HistoryBrowser(ws, rev)).run()
    return 0
