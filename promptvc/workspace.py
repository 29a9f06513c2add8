"""The repository a command works in: git, settings, and snapshots of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptvc.git.repo import GitRepo
from promptvc.git.snapshot import Commit, Snapshot, Where, open_snapshot
from promptvc.settings import Settings, load_settings


@dataclass
class Workspace:
    repo: GitRepo
    settings: Settings

    @classmethod
    def open(cls, start: Path | None = None) -> Workspace:
        repo = GitRepo.discover(start)
        return cls(repo, load_settings(repo.root))

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def db_path(self) -> Path:
        return self.root / self.settings.db_path

    def resolve(self, rev: str) -> Commit:
        """The commit a user's revision text names (`HEAD~1`, a branch, a sha, `:/message`)."""
        return Commit(self.repo.resolve(rev))

    def snapshot(self, where: Where) -> Snapshot:
        return open_snapshot(self.repo, where, self.settings.watched_paths)

    def renderer(self, snapshot: Snapshot):
        from promptvc.prompts.render import Renderer
        cache_dir = self.db_path.parent / "cache" / "templates"
        return Renderer(snapshot, self.settings.prompts_dir, cache_dir)

    def goldens(self, snapshot: Snapshot):
        """Every golden set, parsed (for eval)."""
        from promptvc.evals.goldens import load_goldens
        return load_goldens(snapshot, self.settings.evals_dir)

    def catalog(self, snapshot: Snapshot):
        """The golden sets, parsed only when asked for (for diff and the gate)."""
        from promptvc.evals.goldens import GoldenCatalog
        return GoldenCatalog(snapshot, self.settings.evals_dir)
