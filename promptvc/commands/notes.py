"""`promptvc notes write|push|fetch`: scores as git notes on refs/notes/promptvc."""

from __future__ import annotations

from promptvc.errors import GitFailed
from promptvc.wording import plural
from promptvc.workspace import Workspace

PUSH_TRIES = 3  # a CI job racing others: fetch, merge and push again this many times


def write(revs: tuple[str, ...]) -> int:
    from promptvc.notes import resolve_all, write_notes
    from promptvc.store import Store

    ws = Workspace.open()
    commits = resolve_all(ws, revs or ("HEAD",))
    for done in write_notes(ws, Store(ws.db_path), commits):
        print(done.line)
    return 0


def fetch(remote: str) -> int:
    from promptvc.git.notes import NOTES_REF, tracking_ref
    from promptvc.git.remotes import check_remote, fetch_ref
    from promptvc.notes import merge_from

    repo = Workspace.open().repo
    check_remote(repo, remote)
    into = tracking_ref(remote)
    if fetch_ref(repo, remote, NOTES_REF, into) is None:
        print(f"{remote} has no promptvc notes yet ({NOTES_REF}); nothing to fetch")
        return 0
    merged = merge_from(repo, into)
    both = f", {plural(merged, 'commit')} noted on both sides merged" if merged else ""
    print(f"fetched promptvc notes from {remote}{both}")
    return 0


def push(remote: str) -> int:
    from promptvc.git.notes import NOTES_REF, tracking_ref
    from promptvc.git.remotes import check_remote, fetch_ref, push_ref
    from promptvc.notes import merge_from

    repo = Workspace.open().repo
    check_remote(repo, remote)
    if repo.try_ref(NOTES_REF) is None:
        print("no promptvc notes to push (`promptvc notes write` makes them)")
        return 0
    for _ in range(PUSH_TRIES):
        pushed = push_ref(repo, remote, NOTES_REF)
        if pushed.ok:
            print(f"pushed promptvc notes to {remote}")
            return 0
        if not pushed.rejected:
            break
        # Another writer got there first: take its notes in (a union), then push the merge.
        into = tracking_ref(remote)
        if fetch_ref(repo, remote, NOTES_REF, into) is not None:
            merge_from(repo, into)
    raise GitFailed(f"could not push {NOTES_REF} to {remote}: {pushed.message}")
