"""Files written whole or not at all: beside the target, then renamed over it. A bundle picked up
mid-write by a deploy, or a golden file half-appended when Ctrl-C lands, never exists."""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """The whole new file or the old one, keeping the old one's mode."""
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    directory = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def as_written(target: Path, text: str) -> bytes:
    """New text (read as LF, without a byte-order mark) with the existing file's line ends and
    byte-order mark."""
    raw = target.read_bytes() if target.exists() else b""
    if b"\r\n" in raw:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    return codecs.BOM_UTF8 + data if raw.startswith(codecs.BOM_UTF8) else data
