"""Files a command writes on request (--junit, --markdown, responses export): parent folders are
created, as CI scripts expect; a directory or an unwritable path is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

from promptvc.errors import UserError


def check_path(path: str) -> Path:
    """The path to write, refused before any work is done when it cannot be a file."""
    target = Path(path)
    if target.is_dir():
        raise UserError("is a directory; give a file name", path=path)
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{parent} is not a directory", path=path)
    return target


def open_for_writing(path: str, mode: str = "w"):
    target = check_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open(mode, encoding="utf-8" if "b" not in mode else None)
    except OSError as exc:
        raise UserError(f"cannot write: {exc.strerror or exc}", path=path) from None


def write(path: str, data: str | bytes) -> None:
    with open_for_writing(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
