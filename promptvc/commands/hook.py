"""`promptvc hook install / uninstall`: git hooks that run `promptvc check`.

pre-commit judges what is staged against HEAD; pre-merge-commit, which git runs before it
records a clean merge, judges the merge result (the index) against the first parent (HEAD),
so two branches that each pass cannot merge into a failing result. A merge with conflicts is
committed with `git commit`, which runs pre-commit. Rebase and cherry-pick run neither; the
optional pre-push hook (`--pre-push`) judges each pushed branch against what the remote has, so
history that arrived without a commit hook is judged before it leaves the machine.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo

MARKER = "# installed by `promptvc hook install`"


def hook_script(python: str, name: str = "pre-commit") -> str:
    # -P: the hook runs in the repository root, and a committed `promptvc/` or `yaml.py` there
    # must not replace the installed tool (-I would also drop PYTHONPATH, which users rely on).
    quoted = shlex.quote(python)
    gone = shlex.quote(
        f"promptvc: the hook's Python ({python}) is gone; run 'promptvc hook install' again"
    )
    if name == "pre-push":  # git writes the pushed refs on stdin and names the remote in $1
        what, skip, command = (
            "the golden sets a push affects",
            "git push --no-verify",
            'check --pre-push "$1"',
        )
    else:
        what, skip, command = (
            "the golden sets a staged change affects",
            "git commit --no-verify",
            "check </dev/null",
        )
    return f"""#!/bin/sh
{MARKER}: runs {what}.
# Skip once with `{skip}`, or PROMPTVC_SKIP=1.
[ "$PROMPTVC_SKIP" = "1" ] && exit 0
if [ ! -x {quoted} ]; then
    echo {gone} >&2
    exit 1
fi
exec {quoted} -P -m promptvc {command}
"""


HOOKS = ("pre-commit", "pre-merge-commit")
OPTIONAL_HOOKS = ("pre-push",)


def _hook_paths(repo: GitRepo, names: tuple[str, ...] = HOOKS + OPTIONAL_HOOKS) -> list[Path]:
    folder = repo.git_path("hooks")
    return [folder / name for name in names]


def _ours(path: Path) -> bool:
    return MARKER in path.read_text(errors="replace")


def install(force: bool, pre_push: bool = False) -> int:
    repo = GitRepo.discover()
    scope = repo.config_origin("core.hooksPath")
    if scope in ("global", "system") and not force:
        raise UserError(
            f"core.hooksPath is set in your {scope} git config ({repo.config('core.hooksPath')}); "
            "installing there would affect every repository (use --force to do it anyway)"
        )
    paths = _hook_paths(repo, HOOKS + OPTIONAL_HOOKS if pre_push else HOOKS)
    for path in paths:  # refuse before writing any
        if path.exists() and not _ours(path) and not force:
            raise UserError(
                f"{path} exists and was not written by promptvc (use --force to replace it)"
            )
    # A pre-push hook installed before is ours to refresh too (its interpreter path may have moved).
    paths += [
        p for p in _hook_paths(repo, OPTIONAL_HOOKS) if p not in paths and p.exists() and _ours(p)
    ]
    python = os.path.abspath(sys.executable)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(hook_script(python, path.name))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        print(f"installed {path}")
    return 0


def uninstall() -> int:
    repo = GitRepo.discover()
    present = [p for p in _hook_paths(repo) if p.exists()]
    if not present:
        print("no promptvc hook installed")
        return 0
    foreign = [p for p in present if not _ours(p)]
    for path in present:
        if path not in foreign:
            path.unlink()
            print(f"removed {path}")
    if foreign:
        raise UserError(f"{foreign[0]} was not written by promptvc; leaving it alone")
    return 0
