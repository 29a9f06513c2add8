"""`git diff`'s revision forms, turned into the two snapshots to compare."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo
from promptvc.git.snapshot import EMPTY, INDEX, WORKTREE, Commit, Where

_FIRST_PARENT = re.compile(r"^(.+?)(?:~1?|\^1?)$")


@dataclass(frozen=True)
class Range:
    old: Where
    new: Where
    old_label: str
    new_label: str


def diff_range(repo: GitRepo, revs: tuple[str, ...], staged: bool = False) -> Range:
    """none: index vs working tree; --staged: HEAD vs index; REV: REV vs working tree;
    A B or A..B: A vs B; A...B: merge-base(A, B) vs B."""
    if staged:
        if len(revs) > 1:
            raise UserError("--staged takes at most one revision")
        base = revs[0] if revs else "HEAD"
        return _range(repo, base, INDEX, "index")
    if not revs:
        return Range(INDEX, WORKTREE, "index", "working tree")
    if len(revs) == 1 and "..." in revs[0]:
        a, b = revs[0].split("...", 1)
        a, b = a or "HEAD", b or "HEAD"
        base = repo.merge_base(repo.resolve(a), repo.resolve(b))
        return Range(
            Commit(base),
            Commit(repo.resolve(b)),
            f"merge-base({a}, {b}) {base[:7]}",
            _label(repo, b),
        )
    if len(revs) == 1 and ".." in revs[0]:
        a, b = revs[0].split("..", 1)
        return _range(repo, a or "HEAD", b or "HEAD")
    if len(revs) == 1:
        return _range(repo, revs[0], WORKTREE, "working tree")
    if len(revs) == 2:
        return _range(repo, revs[0], revs[1])
    raise UserError("too many revisions (give at most two, or A..B / A...B)")


def _range(repo: GitRepo, old: str, new: str | Where, new_label: str | None = None) -> Range:
    old_where, old_label = _commit_or_empty(repo, old)
    if new is INDEX or new is WORKTREE:
        return Range(old_where, new, old_label, new_label or new.value)
    assert isinstance(new, str)
    new_where, label = _commit_or_empty(repo, new)
    return Range(old_where, new_where, old_label, new_label or label)


def _commit_or_empty(repo: GitRepo, rev: str) -> tuple[Where, str]:
    """The parent of a root commit is the empty tree, as `git show` treats it."""
    sha = repo.try_resolve(rev)
    if sha is not None:
        return Commit(sha), _label(repo, rev, sha)
    parent_of = _FIRST_PARENT.match(rev)
    if parent_of:
        child = repo.try_resolve(parent_of[1])
        if child is not None and not repo.commit_info(child).parents:
            return EMPTY, "empty tree"
    if rev == "HEAD" and repo.try_resolve("HEAD") is None:
        return EMPTY, "empty tree (no commits yet)"
    raise UserError(f"unknown revision: {rev}")


def _label(repo: GitRepo, rev: str, sha: str | None = None) -> str:
    sha = sha or repo.resolve(rev)
    return f"{rev} ({sha[:7]})" if not sha.startswith(rev) else sha[:7]
