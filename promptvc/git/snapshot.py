"""A read-only view of the prompt tree at a commit, in the index, or in the working tree.

Everything is read straight from git objects (or, for the working tree, from disk):
never by checking out. Blob contents are shared between snapshots by sha, so the two
sides of a diff read an unchanged file once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

from promptvc.caches import Caches
from promptvc.errors import UserError
from promptvc.git.repo import SYMLINK_MODE, GitRepo, TreeEntry, object_id


class Special(Enum):
    """The snapshots that are not a commit. Never a string: a branch may be named `index`."""

    INDEX = "index"
    WORKTREE = "worktree"
    EMPTY = "empty"


INDEX, WORKTREE, EMPTY = Special.INDEX, Special.WORKTREE, Special.EMPTY


@dataclass(frozen=True)
class Commit:
    """A resolved commit: the CLI turns a user's revision text into one (`Workspace.resolve`)."""

    sha: str


Where = Commit | Special
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


@dataclass(frozen=True)
class FileRef:
    path: str
    sha: str
    mode: str = "100644"
    untracked: bool = False

    @property
    def is_symlink(self) -> bool:
        return self.mode == SYMLINK_MODE


def blob_sha(data: bytes, object_format: str = "sha1") -> str:
    """The id git gives a blob with this content, in the repository's hash."""
    return object_id(object_format, "blob", data)


def decode_text(path: str, data: bytes) -> str:
    """Text of a file promptvc must load: UTF-8, BOM stripped, CRLF read as LF."""
    if data.startswith(LFS_POINTER):
        raise UserError("is a Git LFS pointer, not the file (run `git lfs pull`)", path=path)
    if b"\0" in data:
        raise UserError("is a binary file, not text", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"is not UTF-8 (byte {exc.start})", path=path) from None
    return text.replace("\r\n", "\n")


class Snapshot:
    """The files under the watched paths at one point: a commit, the index or the working tree."""

    def __init__(
        self,
        repo: GitRepo | None,
        where: Where,
        files: dict[str, FileRef],
        caches: Caches | None = None,
    ):
        self.repo = repo
        self.where = where
        self.commit = where.sha if isinstance(where, Commit) else None
        self.kind = "commit" if isinstance(where, Commit) else where.value
        self.files = files
        self.caches = caches if caches is not None else Caches()  # a workspace passes its own
        self._prefetched = False
        # Files outside the watched paths (python assertion modules and what they import),
        # looked up on demand; kept apart so that `files` stays what a diff compares.
        self._extra: dict[str, FileRef] = {}
        self._missing: set[str] = set()
        # Python assertion modules loaded from this snapshot's blobs (evals.pyassert), which
        # live exactly as long as the snapshot: never shared with another snapshot.
        self.python_modules: object | None = None

    # -- construction -----------------------------------------------------

    @classmethod
    def at_commit(
        cls, repo: GitRepo, sha: str, paths: list[str], caches: Caches | None = None
    ) -> Snapshot:
        files = {e.path: FileRef(e.path, e.sha, e.mode) for e in repo.ls_tree(sha, paths)}
        return cls(repo, Commit(sha), files, caches)

    @classmethod
    def at_index(cls, repo: GitRepo, paths: list[str], caches: Caches | None = None) -> Snapshot:
        files = {e.path: FileRef(e.path, e.sha, e.mode) for e in repo.ls_index(paths)}
        return cls(repo, INDEX, files, caches)

    @classmethod
    def at_worktree(cls, repo: GitRepo, paths: list[str], caches: Caches | None = None) -> Snapshot:
        names, untracked = repo.ls_worktree(paths)
        snapshot = cls(repo, WORKTREE, {}, caches)
        for name in names:
            ref = _worktree_ref(repo, name, name in untracked, snapshot.caches)
            if ref is not None:
                snapshot.files[name] = ref
        return snapshot

    @classmethod
    def empty(cls, caches: Caches | None = None) -> Snapshot:
        return cls(None, EMPTY, {}, caches)

    # -- reading ----------------------------------------------------------

    @property
    def label(self) -> str:
        if isinstance(self.where, Commit):
            return self.where.sha[:7]
        return self.kind

    def __contains__(self, path: str) -> bool:
        return path in self.files

    def under(self, directory: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(
            p for p in self.files if p.startswith(prefix) and p.endswith(suffixes or ("",))
        )

    def read_bytes(self, path: str) -> bytes:
        ref = self._ref(path) or self.lookup(path)
        if ref is None:
            raise UserError(f"no such file in {self.label}", path=path)
        if ref.is_symlink:
            raise UserError("is a symlink; promptvc refuses to follow links", path=path)
        data = self.caches.blobs.get(ref.sha)
        if data is None and not self._prefetched and path in self.files:
            # One `git cat-file --batch` for the whole snapshot costs less than a second process.
            self._prefetched = True
            self.prefetch(list(self.files))
            data = self.caches.blobs.get(ref.sha)
        if data is None:  # outside the watched paths, or evicted (a snapshot above the budget)
            data = self._load([ref])[ref.sha]
            self.caches.blobs[ref.sha] = data
        return data

    def _ref(self, path: str) -> FileRef | None:
        return self.files.get(path) or self._extra.get(path)

    def read_text(self, path: str) -> str:
        return decode_text(path, self.read_bytes(path))

    def prefetch(self, paths: list[str]) -> None:
        """Load many files in one go (one `git cat-file --batch` for a commit or the index)."""
        refs = [
            ref
            for p in paths
            if (ref := self._ref(p)) is not None and ref.sha not in self.caches.blobs
        ]
        if refs and self.repo is not None:  # the empty snapshot has no files to load
            self.caches.blobs.update(self._load(refs))

    def _load(self, refs: list[FileRef]) -> dict[str, bytes]:
        assert self.repo is not None
        if self.where is WORKTREE:
            return {ref.sha: (self.repo.root / ref.path).read_bytes() for ref in refs}
        return self.repo.cat_blobs([r.sha for r in refs if not r.is_symlink])

    def lookup(self, path: str) -> FileRef | None:
        """A file outside the watched paths (a python assertion module), found on demand."""
        return self.lookup_many([path]).get(path)

    def lookup_many(self, paths: list[str]) -> dict[str, FileRef]:
        """The files among `paths` that exist here; those not yet met are found in one git call."""
        wanted = [
            p for p in dict.fromkeys(paths) if self._ref(p) is None and p not in self._missing
        ]
        if wanted and self.repo is not None:
            if self.where is WORKTREE:
                found = {
                    p: ref
                    for p in wanted
                    if (ref := _worktree_ref(self.repo, p, False, self.caches))
                }
            else:
                entries: list[TreeEntry] = (
                    self.repo.ls_tree(self.where.sha, wanted)
                    if isinstance(self.where, Commit)
                    else self.repo.ls_index(wanted)
                )
                found = {e.path: FileRef(e.path, e.sha, e.mode) for e in entries}
            for p in wanted:
                if p in found:
                    self._extra[p] = found[p]
                else:
                    self._missing.add(p)
        elif wanted:
            self._missing.update(wanted)
        return {p: ref for p in paths if (ref := self._ref(p)) is not None}


def _worktree_ref(repo: GitRepo, name: str, untracked: bool, caches: Caches) -> FileRef | None:
    full = repo.root / name
    if os.path.islink(full):
        return FileRef(
            name, blob_sha(os.readlink(full).encode(), repo.object_format), SYMLINK_MODE, untracked
        )
    if not full.is_file():
        return None  # deleted in the working tree but still in the index
    data = full.read_bytes()
    sha = blob_sha(data, repo.object_format)
    caches.blobs.setdefault(sha, data)
    return FileRef(name, sha, "100644", untracked)


def open_snapshot(
    repo: GitRepo, where: Where, paths: list[str], caches: Caches | None = None
) -> Snapshot:
    if where is WORKTREE:
        snapshot = Snapshot.at_worktree(repo, paths, caches)
    elif where is INDEX:
        snapshot = Snapshot.at_index(repo, paths, caches)
    elif where is EMPTY:
        return Snapshot.empty(caches)
    elif isinstance(where, Commit):
        snapshot = Snapshot.at_commit(repo, where.sha, paths, caches)
    else:
        raise TypeError(f"not a snapshot location: {where!r}")
    refuse_linked_roots(snapshot.files, paths)
    return snapshot


def refuse_linked_roots(files: dict[str, FileRef], paths: list[str]) -> None:
    """A watched folder (`prompts/`, `evals/`) that is itself a symlink is listed by git as one
    file, so nothing under it would be read, diffed or gated: refused, as a symlinked file is."""
    for root in paths:
        ref = files.get(root.rstrip("/"))
        if ref is not None and ref.is_symlink:
            raise UserError("is a symlink; promptvc refuses to follow links", path=root.rstrip("/"))
