"""A ref that holds blobs by key: one blob per key, under `ab/cdef…` (fanned out by the key's first
two characters, as git's own object store is, so no tree holds more than a few hundred entries).

Written with one `git fast-import` per update: it builds the new trees from the parent's in
memory and writes a pack, so ten thousand new blobs cost one process, not ten thousand. A
commit's second parent merges another writer's tree in (a union: a key is content, so both
sides' blob for it is the same).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from promptvc.git.repo import GitRepo

_KEY = re.compile(r"[0-9a-f]{3,}")
# A fixed identity and time: the ref's commits are data, and the same update makes the same commit.
_COMMITTER = b"promptvc <promptvc@localhost> 0 +0000"


def usable_key(key: str) -> bool:
    """Keys that name a path safely (the cache's are hex digests)."""
    return bool(_KEY.fullmatch(key))


def _path(key: str) -> str:
    return f"{key[:2]}/{key[2:]}"


def tree_blobs(repo: GitRepo, ref: str) -> dict[str, str]:
    """{key: blob sha} of every entry under a ref (nothing when there is no such ref)."""
    if repo.try_ref(ref) is None:
        return {}
    out = repo.run("ls-tree", "-r", "-z", "--full-tree", ref)
    blobs = {}
    for record in out.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            blobs[path.decode().replace("/", "")] = meta.split(b" ")[2].decode()
    return blobs


def commit_blobs(
    repo: GitRepo,
    ref: str,
    new: Mapping[str, bytes],
    merge: str | None = None,
    adopted: Mapping[str, str] | None = None,
) -> str:
    """Add `new` blobs by key to the ref's tree, and `adopted` (key: sha of a blob already in the
    repository, from the `merge` commit) as one commit on the ref; its sha."""
    parents = [p for p in (repo.try_ref(ref), merge) if p is not None]
    message = b"promptvc: %d new entries" % (len(new) + len(adopted or {}))
    stream = [b"commit " + ref.encode(), b"committer " + _COMMITTER]
    stream += [b"data %d" % len(message), message]
    if parents:
        stream.append(b"from " + parents[0].encode())
        stream += [b"merge " + sha.encode() for sha in parents[1:]]
    for key, sha in (adopted or {}).items():
        stream.append(b"M 100644 %s %s" % (sha.encode(), _path(key).encode()))
    for key, data in new.items():
        stream += [b"M 100644 inline " + _path(key).encode(), b"data %d" % len(data), data]
    stream.append(b"")
    repo.run("fast-import", "--quiet", "--date-format=raw", input=b"\n".join(stream))
    written = repo.try_ref(ref)
    assert written is not None  # fast-import has just written it
    return written
