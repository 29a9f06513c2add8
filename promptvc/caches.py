"""What a process keeps between snapshots: blobs, parsed YAML, prompt files, golden sets, compiled
templates and python assertion modules, all keyed by content (a blob sha), so never stale.

One owner: the Workspace holds a Caches and every snapshot it opens carries it, so a long-lived
process (the TUI) holds one set of bounded caches, and two workspaces (or two tests) share none.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A dict that forgets its least recently used entries past a budget (entries, or a weight)."""

    def __init__(self, budget: int, weight: Callable[[V], int] | None = None):
        self.budget = budget
        self.weight = weight
        self.used = 0
        self._items: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def __getitem__(self, key: K) -> V:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= self._weigh(old)
        self._items[key] = value
        self.used += self._weigh(value)
        while self.used > self.budget and len(self._items) > 1:
            _key, dropped = self._items.popitem(last=False)
            self.used -= self._weigh(dropped)

    def setdefault(self, key: K, value: V) -> V:
        if key not in self._items:
            self[key] = value
        return self[key]

    def update(self, items: dict[K, V]) -> None:
        for key, value in items.items():
            self[key] = value

    def clear(self) -> None:
        self._items.clear()
        self.used = 0

    def _weigh(self, value: V) -> int:
        return self.weight(value) if self.weight else 1


class Caches:
    def __init__(self, *, blob_bytes: int = 256 << 20, entries: int = 20_000):
        self.blobs: Bounded[str, bytes] = Bounded(blob_bytes, len)
        self.yaml: Bounded[tuple, object] = Bounded(entries)
        self.prompts: Bounded[tuple, object] = Bounded(entries)
        self.goldens: Bounded[tuple, object] = Bounded(entries)
        self.modules: Bounded[str, object] = Bounded(256)
        self._templates: dict[str, object] = {}

    def templates(self, directory) -> object:
        """The compiled-template cache for a directory (None: in memory only)."""
        from promptvc.prompts.templatecache import TemplateCache
        key = str(directory)
        if key not in self._templates:
            self._templates[key] = TemplateCache(directory)
        return self._templates[key]

    def clear(self) -> None:
        for cache in (self.blobs, self.yaml, self.prompts, self.goldens, self.modules):
            cache.clear()
        self._templates.clear()
