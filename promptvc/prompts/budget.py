"""What one render may use, and what it has used: the render cap, the deadline, the count.

The sandbox (sandbox.py) charges every operation that builds text to the current Budget
before the operation runs; `bounded_render` makes a fresh Budget current for one render.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.utils import Namespace

from promptvc.errors import UserError

MAX_RENDERED_CHARS = 1_000_000
RENDER_DEADLINE = 1.0  # seconds; rendering a prompt takes milliseconds
WORK_FACTOR = 16  # all text a render builds, in multiples of the cap
ITEM_WEIGHT = 16  # a list item made by a filter or call, in characters (a pointer and its object)
MAX_INT_BITS = 65_536  # ~20,000 digits; Python will not print more than 4,300
_CHECK_EVERY = 256  # ticks between looks at the clock


class RenderLimitExceeded(Exception):
    """A template asked for more than a render may use; the message speaks of the template."""


@dataclass(frozen=True)
class RenderLimits:
    max_chars: int = MAX_RENDERED_CHARS
    deadline: float = RENDER_DEADLINE

    @classmethod
    def from_env(cls) -> RenderLimits:
        """Defaults, lowered or raised by the user's environment (never by a repository's files)."""
        return cls(
            _positive("PROMPTVC_RENDER_MAX_CHARS", int, MAX_RENDERED_CHARS),
            _positive("PROMPTVC_RENDER_DEADLINE", float, RENDER_DEADLINE),
        )


def _positive(variable: str, kind: type, default: Any) -> Any:
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise UserError(
            f"{variable} must be a positive {'integer' if kind is int else 'number'}, not {text!r}"
        )
    return value


class Budget:
    """What one render has used: operations (for the deadline) and characters built."""

    __slots__ = ("_ends", "_next_look", "built", "limits", "ops", "timed")

    def __init__(self, limits: RenderLimits, *, timed: bool = True):
        self.limits = limits
        self.timed = timed
        self.ops = 0
        self.built = 0
        self._next_look = _CHECK_EVERY
        self._ends = time.monotonic() + limits.deadline

    def tick(self) -> None:
        self.ops += 1
        if self.ops >= self._next_look and self.timed:
            self._next_look = self.ops + _CHECK_EVERY
            if time.monotonic() > self._ends:
                raise RenderLimitExceeded(
                    f"rendering takes longer than {self.limits.deadline:g} s "
                    "(loops or recursion without end?)"
                )

    def size(self, chars: int, what: str) -> None:
        """Refuse an operation whose result would be `chars` long, before it runs."""
        cap = self.limits.max_chars
        if chars > cap:
            raise RenderLimitExceeded(
                f"{what} would make {chars:,} characters or more; the render cap is {cap:,}"
            )
        if self.timed:
            self.built += chars
            if self.built > cap * WORK_FACTOR:
                raise RenderLimitExceeded(
                    f"rendering builds more than {cap * WORK_FACTOR:,} characters of text"
                )

    def items(self, count: int, what: str | None = None) -> None:
        """A list an operation makes: it holds memory the way text does, so it counts the same way.

        With `what`, checked before the list is made: no list longer than the cap in items.
        """
        if what is not None and count > self.limits.max_chars:
            raise RenderLimitExceeded(
                f"{what} would make {count:,} items; the render cap is {self.limits.max_chars:,}"
            )
        if self.timed:
            self.built += count * ITEM_WEIGHT
            if self.built > self.limits.max_chars * WORK_FACTOR:
                raise RenderLimitExceeded(
                    f"rendering builds more than {self.limits.max_chars * WORK_FACTOR:,} "
                    "characters of text and lists"
                )

    def width(self, value: Any, what: str) -> None:
        if isinstance(value, int) and value > self.limits.max_chars:
            raise RenderLimitExceeded(
                f"{what} {value:,} is past the render cap of {self.limits.max_chars:,}"
            )


_CURRENT: ContextVar[Budget | None] = ContextVar("promptvc_render_budget", default=None)
_UNTIMED = Budget(RenderLimits(), timed=False)  # compile-time folding, trusted built-in templates


def budget() -> Budget:
    return _CURRENT.get() or _UNTIMED


class bounded_render:
    """`with bounded_render(limits):` — the budget every hook of the sandbox charges."""

    def __init__(self, limits: RenderLimits):
        self.limits = limits

    def __enter__(self) -> Budget:
        current = Budget(self.limits)
        self._token = _CURRENT.set(current)
        return current

    def __exit__(self, *exc) -> None:
        _CURRENT.reset(self._token)


def text_size(value: Any, limit: int) -> int:
    """About how long `str(value)` is, counted without building it; stops counting past `limit`."""
    total, todo = 0, [value]
    while todo and total <= limit:
        item = todo.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 2
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            todo.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, Namespace):
            todo.append(dict(item._Namespace__attrs))
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 2
        else:
            total += 24
    return total


def int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def as_text(b: Budget, value: Any) -> str:
    if not isinstance(value, str):
        b.size(text_size(value, b.limits.max_chars + 1), "converting a value to text")
        return str(value)
    return value
