"""What a process keeps between snapshots: blobs, parsed YAML, prompt files, golden sets and
compiled templates, all keyed by content (a blob sha), so never stale. (Python assertion modules
live on their snapshot: they are code, loaded for one snapshot only.)

One owner: the Workspace holds a Caches and every snapshot it opens carries it, so a long-lived
process (the TUI) holds one set of bounded caches, and two workspaces (or two tests) share none.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from promptvc.evals.goldens import GoldenSet
    from promptvc.prompts.file import PromptFile
    from promptvc.prompts.templatecache import TemplateCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(dict[K, V]):
    """A dict that forgets its oldest entries past a budget (a count, or a total weight such as
    bytes). Reads are plain dict reads, at C speed: history reads blobs millions of times."""

    def __init__(self, budget: int, weight: Callable[[V], int] | None = None):
        super().__init__()
        self.budget = budget
        self.weight = weight
        self.used = 0

    def __setitem__(self, key: K, value: V) -> None:
        if key in self:
            self.used -= self._weigh(dict.pop(self, key))
        dict.__setitem__(self, key, value)
        self.used += self._weigh(value)
        while self.used > self.budget and len(self) > 1:
            self.used -= self._weigh(dict.pop(self, next(iter(self))))

    def setdefault(self, key: K, value: V) -> V:
        if key not in self:
            self[key] = value
        return dict.__getitem__(self, key)

    def update(self, items: dict[K, V]) -> None:  # type: ignore[override]
        for key, value in items.items():
            self[key] = value

    def clear(self) -> None:
        dict.clear(self)
        self.used = 0

    def _weigh(self, value: V) -> int:
        return self.weight(value) if self.weight else 1


class Caches:
    def __init__(self, *, blob_bytes: int = 256 << 20, entries: int = 20_000):
        self.blobs: Bounded[str, bytes] = Bounded(blob_bytes, len)
        self.yaml: Bounded[tuple, object] = Bounded(entries)
        self.prompts: Bounded[tuple, PromptFile] = Bounded(entries)
        self.goldens: Bounded[tuple, GoldenSet] = Bounded(entries)
        self._templates: dict[str, TemplateCache] = {}

    def templates(self, directory) -> TemplateCache:
        """The compiled-template cache for a directory (None: in memory only)."""
        from promptvc.prompts.templatecache import TemplateCache

        key = str(directory)
        if key not in self._templates:
            self._templates[key] = (
                TemplateCache() if directory is None else TemplateCache.on_disk(directory)
            )
        return self._templates[key]

    def clear(self) -> None:
        for cache in (self.blobs, self.yaml, self.prompts, self.goldens):
            cache.clear()
        self._templates.clear()
