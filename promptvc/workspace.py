"""The repository a command works in: git, settings, and snapshots of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from promptvc.caches import Caches
from promptvc.git.repo import GitRepo
from promptvc.settings import Settings, load_settings
from promptvc.git.snapshot import Snapshot, open_snapshot


@dataclass
class Workspace:
    repo: GitRepo
    settings: Settings
    caches: Caches = field(default_factory=Caches)  # the one owner of what the process keeps

    @classmethod
    def open(cls, start: Path | None = None) -> "Workspace":
        repo = GitRepo.discover(start)
        return cls(repo, load_settings(repo.root))

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def db_path(self) -> Path:
        return self.root / self.settings.db_path

    def snapshot(self, where: str) -> Snapshot:
        """`worktree`, `index`, `empty` or any git revision."""
        return open_snapshot(self.repo, where, self.settings.watched_paths, self.caches)

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
