"""Terminal output: colour on a terminal only (NO_COLOR honoured), a pager for long output like git's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text


def console(stderr: bool = False) -> Console:
    out = Console(highlight=False, soft_wrap=True, stderr=stderr, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # piped: tables are not squeezed into 80 columns
    return out


def emit(lines: Sequence[Text | str], *, pager: bool = False) -> None:
    out = console()
    if pager and _should_page(out, len(lines)):
        with out.capture() as captured:
            for line in lines:
                out.print(line)
        _page(captured.get())
        return
    for line in lines:
        out.print(line)


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
