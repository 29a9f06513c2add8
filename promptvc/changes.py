"""What a change between two snapshots touches: the paths under promptvc's own folders that it
changes, and the secrets it would add to the repository (the versions in its final tree and,
between two commits, every version a commit of the range wrote)."""

from __future__ import annotations

from promptvc.git.snapshot import Commit, Where
from promptvc.workspace import Workspace


def changed_paths(ws: Workspace, old: Where, new: Where) -> list[str]:
    tree = old.sha if isinstance(old, Commit) else ws.repo.empty_tree
    return ws.repo.changed_paths(tree, new.sha if isinstance(new, Commit) else None, [])


def watched(ws: Workspace, paths: list[str]) -> list[str]:
    """The paths among these that promptvc reads: prompts, examples, tiers, goldens, settings."""
    dirs = tuple(p.rstrip("/") + "/" for p in ws.settings.watched_paths)
    return [p for p in paths if p.startswith(dirs) or p in ws.settings.watched_paths]


def between_commits(old: Where, new: Where) -> bool:
    return isinstance(old, Commit) and isinstance(new, Commit)


def secrets_added(ws: Workspace, old: Where, new: Where) -> list[str]:
    """One line per secret in a file the change adds or edits (`path:line: kind masked`), and,
    between two commits, in a version a commit wrote and a later one changed again."""
    from promptvc.secrets import find_secrets

    snapshot = ws.snapshot(new)
    paths = [p for p in watched(ws, changed_paths(ws, old, new)) if p in snapshot]
    snapshot.prefetch(paths)
    findings = [
        f.text()
        for path in paths
        for f in find_secrets(path, snapshot.read_bytes(path).decode("utf-8", "replace"))
    ]
    return findings + _secrets_taken_out(ws, old, new, {snapshot.files[p].sha for p in paths})


def _secrets_taken_out(ws: Workspace, old: Where, new: Where, scanned: set[str]) -> list[str]:
    """Between two commits (`--base`, a push), the versions a commit wrote and a later one
    changed again: a secret taken out by a later commit is still in the history sent."""
    from promptvc.secrets import find_secrets

    if not (isinstance(old, Commit) and isinstance(new, Commit)):
        return []
    written = ws.repo.files_written(old.sha, new.sha, ws.settings.watched_paths)
    earlier = [(commit, entry) for commit, entry in written if entry.sha not in scanned]
    blobs = ws.repo.cat_blobs(list(dict.fromkeys(entry.sha for _c, entry in earlier)))
    return [
        f"{f.path}:{f.line} in {commit[:7]}: {f.kind} {f.masked}"
        for commit, entry in earlier
        if entry.sha in blobs
        for f in find_secrets(entry.path, blobs[entry.sha].decode("utf-8", "replace"))
    ]
