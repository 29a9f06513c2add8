"""A read-only view of the prompt tree at a commit, in the index, or in the working tree.

Everything is read straight from git objects (or, for the working tree, from disk):
never by checking out. Blob contents are shared between snapshots by sha, so the two
sides of a diff read an unchanged file once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from promptvc.caches import Caches
from promptvc.errors import UserError
from promptvc.git.repo import SYMLINK_MODE, GitRepo, TreeEntry

WORKTREE = "worktree"
INDEX = "index"
EMPTY = "empty"
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


def blob_sha(data: bytes) -> str:
    """The sha git gives a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


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

    def __init__(self, repo: GitRepo | None, kind: str, files: dict[str, FileRef], commit: str | None = None,
                 caches: Caches | None = None):
        self.repo = repo
        self.kind = kind
        self.commit = commit
        self.files = files
        self.caches = caches if caches is not None else Caches()  # a workspace passes its own
        self._prefetched = False

    # -- construction -----------------------------------------------------

    @classmethod
    def at_commit(cls, repo: GitRepo, sha: str, paths: list[str], caches: Caches | None = None) -> "Snapshot":
        files = {e.path: FileRef(e.path, e.sha, e.mode) for e in repo.ls_tree(sha, paths)}
        return cls(repo, "commit", files, commit=sha, caches=caches)

    @classmethod
    def at_index(cls, repo: GitRepo, paths: list[str], caches: Caches | None = None) -> "Snapshot":
        files = {e.path: FileRef(e.path, e.sha, e.mode) for e in repo.ls_index(paths)}
        return cls(repo, INDEX, files, caches=caches)

    @classmethod
    def at_worktree(cls, repo: GitRepo, paths: list[str], caches: Caches | None = None) -> "Snapshot":
        names, untracked = repo.ls_worktree(paths)
        snapshot = cls(repo, WORKTREE, {}, caches=caches)
        for name in names:
            ref = _worktree_ref(repo.root, name, name in untracked, snapshot.caches)
            if ref is not None:
                snapshot.files[name] = ref
        return snapshot

    @classmethod
    def empty(cls, caches: Caches | None = None) -> "Snapshot":
        return cls(None, EMPTY, {}, caches=caches)

    # -- reading ----------------------------------------------------------

    @property
    def label(self) -> str:
        if self.kind == "commit":
            return self.commit[:7]
        return self.kind

    def __contains__(self, path: str) -> bool:
        return path in self.files

    def under(self, directory: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix) and p.endswith(suffixes or ("",)))

    def read_bytes(self, path: str) -> bytes:
        ref = self.files.get(path) or self.lookup(path)
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

    def read_text(self, path: str) -> str:
        return decode_text(path, self.read_bytes(path))

    def prefetch(self, paths: list[str]) -> None:
        """Load many files in one go (one `git cat-file --batch` for a commit or the index)."""
        refs = [self.files[p] for p in paths if p in self.files and self.files[p].sha not in self.caches.blobs]
        if refs:
            self.caches.blobs.update(self._load(refs))

    def _load(self, refs: list[FileRef]) -> dict[str, bytes]:
        if self.kind == WORKTREE:
            return {ref.sha: (self.repo.root / ref.path).read_bytes() for ref in refs}
        return self.repo.cat_blobs([r.sha for r in refs if not r.is_symlink])

    def lookup(self, path: str) -> FileRef | None:
        """A file outside the watched paths (a python assertion module), found on demand."""
        if path in self.files:
            return self.files[path]
        if self.repo is None:
            return None
        if self.kind == WORKTREE:
            ref = _worktree_ref(self.repo.root, path, False, self.caches)
        else:
            entries: list[TreeEntry] = (
                self.repo.ls_index([path]) if self.kind == INDEX else self.repo.ls_tree(self.commit, [path])
            )
            match = [e for e in entries if e.path == path]
            ref = FileRef(path, match[0].sha, match[0].mode) if match else None
        if ref is not None:
            self.files[path] = ref
        return ref


def _worktree_ref(root: Path, name: str, untracked: bool, caches: Caches) -> FileRef | None:
    full = root / name
    if os.path.islink(full):
        return FileRef(name, blob_sha(os.readlink(full).encode()), SYMLINK_MODE, untracked)
    if not full.is_file():
        return None  # deleted in the working tree but still in the index
    data = full.read_bytes()
    sha = blob_sha(data)
    caches.blobs.setdefault(sha, data)
    return FileRef(name, sha, "100644", untracked)


def open_snapshot(repo: GitRepo, where: str, paths: list[str], caches: Caches | None = None) -> Snapshot:
    """`worktree`, `index`, `empty`, or any git revision."""
    if where == WORKTREE:
        return Snapshot.at_worktree(repo, paths, caches)
    if where == INDEX:
        return Snapshot.at_index(repo, paths, caches)
    if where == EMPTY:
        return Snapshot.empty(caches)
    return Snapshot.at_commit(repo, repo.resolve(where), paths, caches)
