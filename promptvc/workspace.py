"""The repository a command works in: git, settings, and snapshots of it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promptvc.caches import Caches
from promptvc.errors import UserError
from promptvc.git.repo import GitRepo
from promptvc.git.snapshot import Commit, Snapshot, Where, open_snapshot
from promptvc.settings import Settings, load_settings


@dataclass
class Workspace:
    repo: GitRepo
    settings: Settings
    _db_checked: bool = field(default=False, init=False, repr=False)
    caches: Caches = field(default_factory=Caches)  # the one owner of what the process keeps

    @classmethod
    def open(cls, start: Path | None = None) -> Workspace:
        repo = GitRepo.discover(start)
        return cls(repo, load_settings(repo.root))

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def db_path(self) -> Path:
        """The database; refused inside anything git tracks, where a repository could supply it."""
        path = self.root / self.settings.db_path
        if not self._db_checked:
            _refuse_tracked_state(self.repo, path)
            self._db_checked = True
        return path

    def resolve(self, rev: str) -> Commit:
        """The commit a user's revision text names (`HEAD~1`, a branch, a sha, `:/message`)."""
        return Commit(self.repo.resolve(rev))

    def snapshot(self, where: Where) -> Snapshot:
        return open_snapshot(self.repo, where, self.settings.watched_paths, self.caches)

    def renderer(self, snapshot: Snapshot):
        from promptvc.prompts.render import Renderer
        from promptvc.prompts.templatecache import template_cache_dir

        return Renderer(snapshot, self.settings.prompts_dir, template_cache_dir(self.root))

    def goldens(self, snapshot: Snapshot):
        """Every golden set, parsed (for eval)."""
        from promptvc.evals.goldens import load_goldens

        return load_goldens(snapshot, self.settings.evals_dir)

    def read_goldens(self, snapshot: Snapshot):
        """The golden sets that parse, and the files that do not (eval reports those and runs the rest)."""
        from promptvc.evals.goldens import read_goldens

        return read_goldens(snapshot, self.settings.evals_dir)

    def catalog(self, snapshot: Snapshot, exclude: Iterable[str] = ()):
        """The golden sets, parsed only when asked for (for diff and the gate); `exclude` leaves
        out files already known not to parse."""
        from promptvc.evals.goldens import GoldenCatalog

        return GoldenCatalog(snapshot, self.settings.evals_dir, exclude)


def _refuse_tracked_state(repo: GitRepo, db: Path) -> None:
    # A committed database (or its -wal journal beside it) would hand the gate a repository's
    # own "passed" results; its folder must hold nothing git tracks.
    folder = os.path.relpath(os.path.abspath(db.parent), os.path.abspath(repo.root))
    if folder == ".." or folder.startswith(".." + os.sep):
        return  # outside the work tree
    tracked = repo.tracked_under(folder)
    if tracked:
        where = "the repository root" if folder == "." else f"{folder}/"
        raise UserError(
            f"the database folder {where} holds tracked files ({tracked[0]}); keep the database "
            "outside anything git tracks ([paths] db in promptvc.toml)"
        )
