"""Moving promptvc's own refs (notes, recorded responses) to and from a remote.

These refs are not branches: git fetches and pushes them only when named, so each move names its
refspec. A remote that has never received one is an answer ("nothing there yet"), not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptvc.errors import GitFailed, UserError
from promptvc.git.repo import GitRepo


@dataclass(frozen=True)
class Pushed:
    ok: bool
    rejected: bool  # the remote has moved on (another writer pushed first): fetch, merge, retry
    message: str


def tracking_name(remote: str) -> str:
    """A remote's name, or its URL made into one ref component (`/srv/x.git` -> `_srv_x.git`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", remote).strip(".") or "_"


def check_remote(repo: GitRepo, remote: str) -> None:
    """A remote name or URL git knows; a typo is the user's mistake, in one line."""
    if remote.startswith("-"):
        raise UserError(f"not a remote: {remote}")
    names = repo.run("remote").decode("utf-8", "replace").split()
    if remote not in names and "/" not in remote and ":" not in remote:
        known = ", ".join(names) or "none"
        raise UserError(f"no such remote: {remote} (this repository has: {known})")


def remote_ref(repo: GitRepo, remote: str, ref: str) -> str | None:
    """The sha a remote has under a ref, or None when it has none."""
    code, out, err = repo.attempt("ls-remote", "--end-of-options", remote, ref)
    if code != 0:
        raise GitFailed(f"could not reach {remote}: {err or f'git ls-remote exit {code}'}")
    for line in out.decode().splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def fetch_ref(repo: GitRepo, remote: str, ref: str, into: str) -> str | None:
    """Fetch a remote's ref into a local tracking ref (forced: the remote's is the truth there);
    the fetched sha, or None when the remote has no such ref."""
    if remote_ref(repo, remote, ref) is None:
        return None
    code, _out, err = repo.attempt("fetch", "--quiet", "--end-of-options", remote, f"+{ref}:{into}")
    if code != 0:
        raise GitFailed(f"could not fetch {ref} from {remote}: {err}")
    return repo.try_ref(into)


def push_ref(repo: GitRepo, remote: str, ref: str) -> Pushed:
    """Push a local ref to the same name, never forced: a concurrent writer's work is merged, not lost."""
    code, out, err = repo.attempt("push", "--porcelain", "--end-of-options", remote, f"{ref}:{ref}")
    if code == 0:
        return Pushed(True, False, "")
    said = out.decode("utf-8", "replace") + err
    rejected = any(word in said for word in ("rejected", "fetch first", "non-fast-forward"))
    return Pushed(False, rejected, err)
