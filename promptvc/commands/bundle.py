"""`promptvc bundle`: write a deploy bundle of prompts at a revision, or check one against it."""

from __future__ import annotations

import sys
from pathlib import Path

from promptvc.errors import UserError
from promptvc.names import as_name
from promptvc.wording import plural
from promptvc.workspace import Workspace

DEFAULT_FILE = "prompts.bundle.json"


def run(names: tuple[str, ...], rev: str | None, output: str | None, check: str | None) -> int:
    if check is not None:
        if output is not None or names:
            raise UserError("--check FILE takes no -o and no prompt names")
        return run_check(check, rev)
    ws = Workspace.open()
    bundle = _bundle_at(ws, rev or "HEAD", [as_name(n, ws.settings.prompts_dir) for n in names])
    from promptvc.atomicfile import write_atomically
    from promptvc.bundle import dumps

    target = Path(output or DEFAULT_FILE)
    if str(target) == "-":
        sys.stdout.write(dumps(bundle))
        return 0
    write_atomically(target, dumps(bundle).encode("utf-8"))
    print(
        f"wrote {target}: {plural(len(bundle.prompts), 'prompt')}, "
        f"{plural(len(bundle.files), 'file')} at {bundle.commit[:7]} ({bundle.hash[:19]})",
        file=sys.stderr,
    )
    return 0


def run_check(path: str, rev: str | None) -> int:
    """0 when the bundle is intact and holds what the revision (default HEAD) would put in it."""
    from promptvc.bundle import read_bundle

    bundle = read_bundle(path)
    ws = Workspace.open()
    label = rev or "HEAD"
    fresh = _bundle_at(ws, label, list(bundle.prompts))
    changed = bundle.same_content(fresh)
    where = f"{label} ({fresh.commit[:7]})"
    if not changed:
        made = "" if fresh.commit == bundle.commit else f"; made at {bundle.commit[:7]}"
        print(f"{path}: matches {where}: {plural(len(bundle.prompts), 'prompt')}{made}")
        return 0
    print(f"{path}: does not match {where} (made at {bundle.commit[:7]}); differs in:")
    for item in changed:
        print(f"  {item}")
    return 1


def _bundle_at(ws: Workspace, rev: str, names: list[str]):
    from promptvc.bundle import make_bundle

    snapshot = ws.snapshot(ws.resolve(rev))
    return make_bundle(ws.renderer(snapshot), names or None)
