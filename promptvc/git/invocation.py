"""Which git command started this hook: is the pre-commit hook running for `git commit --amend`?

git tells a pre-commit hook nothing about an amend: no argument, no variable (GIT_AUTHOR_* are
exported for an amend but also for `-C`/`-c`, and a user may set them), and ORIG_HEAD and the
reflog are written only after the hook. What stays reliable is the command line of the `git`
process that runs the hook, which is what overcommit (`Utils.parent_command`) reads: on Linux from
/proc/PID/cmdline, elsewhere from `ps`. An alias (`ci = commit --amend`) shows up too, because
git runs an aliased command as a new `git commit --amend …` process. The walk goes up a few
ancestors (the pre-commit framework puts its own Python in between) to the first `git`; with no
/proc, no `ps` (Windows) or no git ancestor, it is not an amend, which is the old behaviour.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ANCESTORS = 4  # git -> sh hook -> pre-commit -> promptvc, at most
# `git commit` options whose value may be the next argument, so that `-m --amend` is a message.
_TAKES_VALUE = {
    "-m",
    "--message",
    "-F",
    "--file",
    "-C",
    "--reuse-message",
    "-c",
    "--reedit-message",
    "--author",
    "--date",
    "-t",
    "--template",
    "--cleanup",
    "--fixup",
    "--squash",
    "--trailer",
    "--pathspec-from-file",
}
# git's own options before the command whose value is the next argument.
_GIT_TAKES_VALUE = {
    "-c",
    "-C",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--config-env",
    "--exec-path",
}


def amending() -> bool:
    """True when the nearest `git` ancestor of this process is `git commit --amend`."""
    pid = os.getppid()
    for _ in range(_ANCESTORS):
        found = _parent(pid)
        if found is None:
            return False
        argv, parent = found
        if argv and os.path.basename(argv[0]).removesuffix(".exe") == "git":
            return is_amend(argv)
        if parent <= 1:
            return False
        pid = parent
    return False


def is_amend(argv: list[str]) -> bool:
    """Whether a git command line is `git … commit … --amend` (parse-options accepts `--am`)."""
    if not argv or os.path.basename(argv[0]).removesuffix(".exe") != "git":
        return False
    args = iter(argv[1:])
    for arg in args:
        if arg in _GIT_TAKES_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            if arg != "commit":
                return False
            break
    else:
        return False
    amend = False
    for arg in args:
        if arg == "--":
            break
        if arg in _TAKES_VALUE:
            next(args, None)
        elif len(arg) >= 4 and "--amend".startswith(arg):
            amend = True
        elif len(arg) >= 7 and "--no-amend".startswith(arg):
            amend = False
    return amend


def _parent(pid: int) -> tuple[list[str], int] | None:
    """(command line, parent pid) of a process, or None when the system will not say."""
    proc = Path(f"/proc/{pid}")
    try:
        argv = [
            a.decode("utf-8", "surrogateescape")
            for a in (proc / "cmdline").read_bytes().split(b"\0")
            if a
        ]
        # The second field after the parenthesised name (which may hold spaces) is the parent pid.
        return argv, int((proc / "stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "ppid=", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=2,
        ).stdout.strip()
        ppid, command = out.split(None, 1)
        return command.split(), int(ppid)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
