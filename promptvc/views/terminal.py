"""Terminal output: colour on a terminal only (NO_COLOR honoured), a pager for long output like git's,
and nothing a model, a variable or a file supplied can drive the terminal with.

rich is imported inside the functions that print: `printable` is also used where a command
fails before anything heavy was imported."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


# Control characters from a model, a variable or a file would drive the terminal (clear it, retitle
# it, rewrite a line with \r). Each becomes its visible Control Pictures symbol (ESC → ␛) or, in
# the C1 range, U+FFFD: one character for one, so the styles of a Text stay where they were.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\n\t"}
_CONTROL_PICTURES |= {0x7F: "\u2421"} | {code: "\ufffd" for code in range(0x80, 0xA0)}


_A_CONTROL = re.compile("[" + re.escape("".join(map(chr, _CONTROL_PICTURES))) + "]")


def printable(text: str) -> str:
    """Text safe to print: every control character but newline and tab shown, not obeyed."""
    # Searching first: a long log's megabyte of text seldom has one, and translating is slower.
    return text.translate(_CONTROL_PICTURES) if _A_CONTROL.search(text) else text


def printable_text(text: Text) -> Text:
    plain = text.plain
    safe_plain = printable(plain)
    if safe_plain == plain:
        return text  # nothing to show differently: no copy (a long log has thousands of lines)
    safe = text.copy()
    safe.plain = safe_plain
    return safe


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True, stderr=stderr, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # piped: tables are not squeezed into 80 columns
    return out


# A run of a line's text and its style ("": none), for lines built by the thousand (log).
Piece = tuple[str, str]


def emit_pieces(lines: Sequence[Sequence[Piece | Text]], *, pager: bool = False) -> None:
    """Lines given as pieces: each line's rich Text is built only when colour or a pager will show
    it. Piped or uncoloured, a 2,000-commit log's 22,000 lines are joined as strings instead, some
    ten times cheaper than building Texts to print their plain text."""
    out = console()
    if out.color_system is None and not (pager and _should_page(out, len(lines))):
        plain = ["".join(p[0] if isinstance(p, tuple) else p.plain for p in line) for line in lines]
        if not any("\t" in line for line in plain):  # rich expands tabs: let it
            out.file.write("".join(printable(line) + "\n" for line in plain))
            out.file.flush()
            return
    from rich.text import Text

    _emit(out, [Text.assemble(*line) for line in lines], pager)


def emit(lines: Sequence[Text | str], *, pager: bool = False) -> None:
    _emit(console(), lines, pager)


def _emit(out: Console, lines: Sequence[Text | str], pager: bool) -> None:
    lines = [printable(line) if isinstance(line, str) else printable_text(line) for line in lines]
    if pager and _should_page(out, len(lines)):
        with out.capture() as captured:
            for line in lines:
                out.print(line)
        _page(captured.get())
        return
    if out.color_system is None and all(_plain_as_rendered(line) for line in lines):
        # Uncoloured, rich prints a Text's plain text, at ~40 µs a line: a 2,000-commit log is
        # 22,000 lines, so they are written as they are.
        out.file.write("".join(line.plain + "\n" for line in lines))  # type: ignore[union-attr]
        out.file.flush()
        return
    for line in lines:
        out.print(line)


def _plain_as_rendered(line: Text | str) -> bool:
    """A Text without tabs (rich expands them) prints as its plain text when there is no colour."""
    return not isinstance(line, str) and "\t" not in line.plain


def _should_page(out: Console, count: int) -> bool:
    if not out.is_terminal or not sys.stdin.isatty():
        return False
    if os.environ.get("PROMPTVC_PAGER", os.environ.get("PAGER")) == "cat":
        return False
    return count > shutil.get_terminal_size().lines - 1


def _page(text: str) -> None:
    command = os.environ.get("PROMPTVC_PAGER") or os.environ.get("PAGER") or "less"
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # as git does: quit if one screen, keep colours
    try:
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
        proc.communicate(text.encode())
    except (OSError, BrokenPipeError):
        sys.stdout.write(text)
