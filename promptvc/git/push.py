"""What a `git push` sends, as the ranges the pre-push gate judges.

git gives the pre-push hook one line per ref on stdin: `<local ref> <local sha> <remote ref>
<remote sha>`. Each pushed ref is judged as `check --base` judges a branch in CI: the merge-base
of what the remote has and what is pushed, against what is pushed. A ref that is new on the
remote is judged against its merge-base with the remote's default branch (as far as this clone
knows it); a deletion sends nothing to judge. Commits that arrived by rebase, cherry-pick or
`--no-verify` are covered this way: no commit hook ran for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo


@dataclass(frozen=True)
class PushedRange:
    ref: str  # the remote ref being updated (refs/heads/main)
    base: str  # the commit the pushed one must be no worse than
    head: str  # the commit being pushed
    base_name: str  # what "no worse than …" names


@dataclass(frozen=True)
class PushPlan:
    ranges: list[PushedRange]
    skipped: list[str]  # one line per ref that is not judged, and why


def _is_zero(sha: str) -> bool:
    return set(sha) == {"0"}


def _short_ref(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


def plan_push(repo: GitRepo, remote: str, lines: list[str]) -> PushPlan:
    ranges: list[PushedRange] = []
    skipped: list[str] = []
    for line in lines:
        fields = line.split()
        if len(fields) != 4:
            continue  # git writes nothing else; a blank line is not a ref
        _local_ref, local_sha, remote_ref, remote_sha = fields
        if _is_zero(local_sha):
            continue  # a deletion: nothing arrives to judge
        head = repo.try_resolve(local_sha)
        if head is None:
            skipped.append(
                f"{_short_ref(remote_ref)}: {local_sha[:7]} is not a commit; not checked"
            )
            continue
        found = _base(repo, remote, remote_ref, remote_sha, head)
        if isinstance(found, str):
            skipped.append(found)
        elif found is not None and found.base != head:
            ranges.append(found)
    return PushPlan(ranges, skipped)


def _base(
    repo: GitRepo, remote: str, remote_ref: str, remote_sha: str, head: str
) -> PushedRange | str | None:
    """The range for one ref, or a line saying why it is not judged."""
    name = _short_ref(remote_ref)
    known = None if _is_zero(remote_sha) else repo.try_resolve(remote_sha)
    if known is not None:
        base = _merge_base(repo, known, head)
        if base is not None:
            return PushedRange(remote_ref, base, head, f"{remote}'s {name} ({known[:7]})")
    default = _default_branch(repo, remote)
    if default is None:
        why = (
            "is new on"
            if known is None and _is_zero(remote_sha)
            else "has commits this clone lacks on"
        )
        return (
            f"{name} {why} {remote}, whose default branch this clone does not know "
            f"(`git remote set-head {remote} --auto`); not checked"
        )
    label, sha = default
    base = _merge_base(repo, sha, head)
    if base is None:
        return f"{name} shares no history with {label}; not checked"
    return PushedRange(remote_ref, base, head, f"the merge-base with {label} ({base[:7]})")


def _merge_base(repo: GitRepo, a: str, b: str) -> str | None:
    try:
        return repo.merge_base(a, b)
    except UserError:
        return None


def _default_branch(repo: GitRepo, remote: str) -> tuple[str, str] | None:
    """The remote's default branch as this clone last saw it: `<remote>/HEAD` (set by clone and
    `git remote set-head`), else its main or master."""
    for candidate in (
        f"refs/remotes/{remote}/HEAD",
        f"refs/remotes/{remote}/main",
        f"refs/remotes/{remote}/master",
    ):
        sha = repo.try_resolve(candidate)
        if sha is not None:
            return candidate.removeprefix("refs/remotes/"), sha
    return None
