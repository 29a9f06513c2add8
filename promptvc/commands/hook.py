"""`promptvc hook install / uninstall`: a git pre-commit hook that runs `promptvc check`."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo

MARKER = "# installed by `promptvc hook install`"


def hook_script(python: str) -> str:
    # -P: the hook runs in the repository root, and a committed `promptvc/` or `yaml.py` there
    # must not replace the installed tool (-I would also drop PYTHONPATH, which users rely on).
    quoted = shlex.quote(python)
    gone = shlex.quote(f"promptvc: the hook's Python ({python}) is gone; run 'promptvc hook install' again")
    return f"""#!/bin/sh
{MARKER}: runs the golden sets a staged change affects.
# Skip once with `git commit --no-verify`, or PROMPTVC_SKIP=1.
[ "$PROMPTVC_SKIP" = "1" ] && exit 0
if [ ! -x {quoted} ]; then
    echo {gone} >&2
    exit 1
fi
exec {quoted} -P -m promptvc check </dev/null
"""


def _hook_path(repo: GitRepo) -> Path:
    return repo.git_path("hooks") / "pre-commit"


def install(force: bool) -> int:
    repo = GitRepo.discover()
    scope = repo.config_origin("core.hooksPath")
    if scope in ("global", "system") and not force:
        raise UserError(f"core.hooksPath is set in your {scope} git config ({repo.config('core.hooksPath')}); "
                        "installing there would affect every repository (use --force to do it anyway)")
    path = _hook_path(repo)
    if path.exists() and MARKER not in path.read_text(errors="replace") and not force:
        raise UserError(f"{path} exists and was not written by promptvc (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(hook_script(os.path.abspath(sys.executable)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"installed {path}")
    return 0


def uninstall() -> int:
    repo = GitRepo.discover()
    path = _hook_path(repo)
    if not path.exists():
        print("no pre-commit hook installed")
        return 0
    if MARKER not in path.read_text(errors="replace"):
        raise UserError(f"{path} was not written by promptvc; leaving it alone")
    path.unlink()
    print(f"removed {path}")
    return 0
