"""What can go wrong with the database file, each said in one line that names the file and what to do.

Exit 2 for what the user fixes (a read-only or damaged file, a directory in its place), 3 for
what passes (a full disk, a writer holding the lock): the store runs every public method inside
`faults`, so no sqlite3 error reaches the user as a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

from promptvc.errors import CannotEvaluate, PromptvcError, UserError

Kind = Literal["busy", "readonly", "cantopen", "corrupt", "full", "io", "other"]


class StoreReadOnly(UserError):
    """The database (or its folder) cannot be written: a reader may still open it read-only."""


# SQLite's primary result codes (the low byte of an extended code), and the words of its
# messages for an error raised without one.
_CODES: dict[int, Kind] = {
    5: "busy",
    6: "busy",
    8: "readonly",
    10: "io",
    11: "corrupt",
    13: "full",
    14: "cantopen",
    26: "corrupt",
}
_WORDS: dict[str, Kind] = {
    "locked": "busy",
    "readonly": "readonly",
    "unable to open": "cantopen",
    "malformed": "corrupt",
    "not a database": "corrupt",
    "disk is full": "full",
    "disk i/o": "io",
}


def kind(exc: sqlite3.Error) -> Kind:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in _CODES:
        return _CODES[code]
    said = str(exc).lower()
    return next((k for words, k in _WORDS.items() if words in said), "other")


def fault(path: Path, exc: sqlite3.Error, busy_timeout: float) -> PromptvcError:
    """One line for what SQLite said."""
    what, said, where = kind(exc), str(exc), str(path)
    if what == "busy":
        return CannotEvaluate(
            f"another process has held the database's write lock for over {busy_timeout:g} s "
            f"({said}); let it finish (or end it) and run again",
            path=where,
        )
    if what == "readonly":
        return StoreReadOnly(
            f"cannot be written ({said}); make the file and its folder writable, or set "
            "[paths] db in promptvc.toml to a writable place",
            path=where,
        )
    if what == "cantopen":
        return StoreReadOnly(
            f"cannot be opened or created ({said}); check that its folder exists and is "
            "writable, or set [paths] db in promptvc.toml",
            path=where,
        )
    if what == "corrupt":
        return UserError(
            f"is damaged or not a promptvc database ({said}); move it aside and promptvc starts "
            "a new one (scores are computed again when needed)",
            path=where,
        )
    if what == "full":
        return CannotEvaluate(
            f"the disk is full ({said}); free some space and run again (finished results are kept)",
            path=where,
        )
    if what == "io":
        return CannotEvaluate(
            f"could not be read or written ({said}); check the disk and run again", path=where
        )
    return CannotEvaluate(f"the database failed ({said})", path=where)


@contextlib.contextmanager
def faults(path: Path, busy_timeout: float) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise fault(path, exc, busy_timeout) from None
    except PermissionError as exc:
        raise StoreReadOnly(
            f"cannot be created ({exc.strerror}: {exc.filename}); make its folder writable, "
            "or set [paths] db in promptvc.toml",
            path=str(path),
        ) from None
    except OSError as exc:  # a file where its folder should be, a path too long, …
        raise UserError(
            f"cannot be created ({exc.strerror or exc}); set [paths] db in promptvc.toml to a "
            "file in a folder you can write",
            path=str(path),
        ) from None


class _HasFile(Protocol):
    path: Path
    busy_timeout: float


F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Run a store method inside `faults` (a generator for as long as it is iterated)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: _HasFile, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with faults(self.path, self.busy_timeout):
                yield from method(self, *args, **kwargs)

        return cast(F, generator)

    @functools.wraps(method)
    def wrapper(self: _HasFile, *args: Any, **kwargs: Any) -> Any:
        with faults(self.path, self.busy_timeout):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)
