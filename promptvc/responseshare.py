"""Recorded responses through git: the response cache as blobs under `refs/promptvc/responses`.

Each response is one blob of canonical JSON (keys sorted, the machine-local `source` left out), so
the same response is the same object on every machine and git sends only what a remote lacks. The
ref's tree grows by one commit per push (new blobs only); a remote that moved on is merged in as a
second parent, its entries adopted by sha. What a blob holds is what `responses export` writes:
the request (its endpoint without credentials), the answer and its counts; never a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from promptvc.errors import GitFailed
from promptvc.git.keyedtree import commit_blobs, tree_blobs, usable_key
from promptvc.git.remotes import fetch_ref, push_ref, tracking_name
from promptvc.git.repo import GitRepo
from promptvc.providers import public_endpoint
from promptvc.store import RESPONSE_COLUMNS, Store

RESPONSES_REF = "refs/promptvc/responses"
PUSH_TRIES = 3
# A request and its answer, as JSON: a long prompt and a long answer are a few megabytes. A blob
# past this is not one, and a remote's word is not enough to read it into memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_SHARED = tuple(c for c in RESPONSE_COLUMNS if c != "source")


def tracking_ref(remote: str) -> str:
    return f"refs/promptvc/responses-remote/{tracking_name(remote)}"


def response_blob(row: dict) -> bytes:
    shared = {c: row.get(c) for c in _SHARED}
    if isinstance(shared["endpoint"], str):
        shared["endpoint"] = public_endpoint(shared["endpoint"])
    return json.dumps(shared, sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Moved:
    count: int  # responses sent or received
    present: int  # already on the other side
    remote_had_ref: bool
    unshareable: int = 0  # keys that cannot name a path (imported from a hand-made file)
    oversized: int = 0  # the remote's blobs too large to be a response, left unread


def push_responses(repo: GitRepo, store: Store, remote: str) -> Moved:
    """Commit the responses neither this clone's ref nor the remote's holds, and push the ref."""
    for _ in range(PUSH_TRIES):
        remote_sha = fetch_ref(repo, remote, RESPONSES_REF, tracking_ref(remote))
        moved = _commit_new(repo, store, remote_sha)
        local = repo.try_ref(RESPONSES_REF)
        if local is None or local == remote_sha:
            return moved
        pushed = push_ref(repo, remote, RESPONSES_REF)
        if pushed.ok:
            return moved
        if not pushed.rejected:
            raise GitFailed(f"could not push {RESPONSES_REF} to {remote}: {pushed.message}")
    raise GitFailed(f"could not push {RESPONSES_REF} to {remote}: other writers kept moving it")


def _commit_new(repo: GitRepo, store: Store, remote_sha: str | None) -> Moved:
    local_sha = repo.try_ref(RESPONSES_REF)
    have = tree_blobs(repo, RESPONSES_REF)
    merge = None
    adopted: dict[str, str] = {}
    if remote_sha is not None and remote_sha != local_sha:
        if local_sha is None:
            repo.run("update-ref", RESPONSES_REF, remote_sha)
            have = tree_blobs(repo, RESPONSES_REF)
        elif not _is_ancestor(repo, remote_sha, local_sha):
            theirs = tree_blobs(repo, remote_sha)
            adopted = {k: sha for k, sha in theirs.items() if k not in have}
            have = have | theirs
            merge = remote_sha
    cached = store.response_keys()
    unshareable = sum(1 for k in cached if not usable_key(k))
    new_keys = sorted(k for k in cached if k not in have and usable_key(k))
    rows = store.responses_for(new_keys)
    blobs = {key: response_blob(rows[key]) for key in new_keys if key in rows}
    if blobs or merge is not None:
        commit_blobs(repo, RESPONSES_REF, blobs, merge=merge, adopted=adopted)
    return Moved(
        len(blobs), len(cached) - len(blobs) - unshareable, remote_sha is not None, unshareable
    )


def _is_ancestor(repo: GitRepo, ancestor: str, descendant: str) -> bool:
    code, _out, _err = repo.attempt("merge-base", "--is-ancestor", ancestor, descendant)
    return code == 0


def fetch_responses(repo: GitRepo, store: Store, remote: str) -> Moved:
    """Import the remote's responses this cache lacks (read in one `git cat-file --batch`)."""
    remote_sha = fetch_ref(repo, remote, RESPONSES_REF, tracking_ref(remote))
    if remote_sha is None:
        return Moved(0, 0, False)
    theirs = tree_blobs(repo, tracking_ref(remote))
    known = store.response_keys()
    wanted = {key: sha for key, sha in theirs.items() if key not in known}
    sizes = repo.blob_sizes(list(wanted.values()))
    readable = [sha for sha in wanted.values() if sizes.get(sha, 0) <= MAX_RESPONSE_BYTES]
    texts = repo.cat_blobs(readable)
    rows = [
        row for key, sha in wanted.items() if (row := _row(key, texts.get(sha, b""))) is not None
    ]
    store.save_responses(rows)
    if repo.try_ref(RESPONSES_REF) is None:
        repo.run("update-ref", RESPONSES_REF, remote_sha)
    oversized = len(set(wanted.values())) - len(set(readable))
    return Moved(len(rows), len(theirs) - len(wanted), True, oversized=oversized)


def _row(key: str, blob: bytes) -> dict | None:
    """The cache row a blob holds; None for one that is not a response, or not the one its path names."""
    from promptvc.evaluation.request import ask_key_of

    try:
        shared = json.loads(blob)
    except ValueError:
        return None
    if not isinstance(shared, dict) or shared.get("key") != key or "text" not in shared:
        return None
    request = shared.get("request")
    # What was asked is read from the request itself, never from the blob's word for it.
    ask_key = ask_key_of(request) if isinstance(request, str) else None
    return {c: shared.get(c) for c in RESPONSE_COLUMNS} | {"source": "git", "ask_key": ask_key}
