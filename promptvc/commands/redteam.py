"""`promptvc redteam`: write a golden set of attacks on a prompt's declared inputs, for review."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from promptvc.errors import UserError
from promptvc.git.snapshot import WORKTREE
from promptvc.names import as_name
from promptvc.workspace import Workspace


def default_file(prompt: str) -> str:
    return prompt.replace("/", "-") + "-redteam.yaml"


def run(
    name: str,
    out: str | None,
    n: int,
    rev: str | None,
    force: bool,
    model: bool = False,
    variations: int | None = None,
    no_cache: bool = False,
) -> int:
    """`model`: the judge tier writes `variations` more attacks per input (default 8)."""
    from promptvc.evals.redteam import attack_suite, load_corpus, suite_yaml

    if not model and (variations is not None or no_cache):
        raise UserError("--variations and --no-cache go with --model")

    ws = Workspace.open()
    name = as_name(name, ws.settings.prompts_dir)
    snapshot = ws.snapshot(ws.resolve(rev) if rev else WORKTREE)
    renderer = ws.renderer(snapshot)
    goldens, _unreadable = ws.read_goldens(snapshot)
    prompt = renderer.prompt(name)
    suite = attack_suite(prompt, goldens, n)
    target = Path(out) if out else ws.root / ws.settings.evals_dir / default_file(name)
    if target.exists() and not force:
        raise UserError(f"{_shown(target)} exists (--force to overwrite it)")
    if model:
        from promptvc.evaluation.attack_writer import (
            DEFAULT_VARIATIONS,
            with_written,
            write_variations,
        )

        k = DEFAULT_VARIATIONS if variations is None else variations
        written = write_variations(ws, renderer, prompt, suite, load_corpus(), k, no_cache=no_cache)
        suite = with_written(suite, written)
        if dropped := written.dropped_line():
            print(f"promptvc: warning: {dropped}", file=sys.stderr)
    for case in suite.cases:  # a case that cannot render is refused before anything is written
        renderer.render(name, suite.case_vars(case))
    benign = renderer.render(name, suite.benign)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(suite_yaml(suite, benign.system), encoding="utf-8")
    evals = (ws.root / ws.settings.evals_dir).resolve()
    if not target.resolve().is_relative_to(evals):
        print(
            f"promptvc: warning: {_shown(target)} is outside {ws.settings.evals_dir}/: eval and "
            "the gate will not find it there",
            file=sys.stderr,
        )
    inputs = len({c.input for c in suite.cases})
    print(
        f"wrote {_shown(target)}: {len(suite.cases)} attacks{_by_model(suite)} on {inputs} input"
        f"{'' if inputs == 1 else 's'} of {name} (kind: safety); review it, then commit it"
    )
    return 0


def _by_model(suite) -> str:
    written = suite.written
    if not written:
        return ""
    return f" ({len(written)} written by {written[0].attack.written_by})"


def _shown(path: Path) -> str:
    return os.path.relpath(path)
