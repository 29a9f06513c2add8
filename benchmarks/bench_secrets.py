"""What the secret scan adds to a hook run: 50 staged prompt and golden files read from the index
and scanned, as `promptvc check` does before it evaluates anything. Target: under 20 ms.

Run by hand: python benchmarks/bench_secrets.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synth import git_env, golden_text, prompt_text, tiers_yaml  # noqa: E402
from benchmarks.timing import median, report  # noqa: E402

FILES = 50


def staged_repo(root: Path) -> None:
    env = {**os.environ, **git_env()}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    (root / "prompts").mkdir()
    (root / "evals").mkdir()
    (root / "prompts/tiers.yaml").write_text(tiers_yaml())
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "tiers"], cwd=root, check=True, env=env)
    for i in range(FILES // 2):
        (root / f"prompts/p{i}.jinja").write_text(prompt_text(i, revision=1) * 20)
        (root / f"evals/p{i}.yaml").write_text(golden_text(i, cases=40))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)


def main() -> None:
    from promptvc.commands.check import _refuse_secrets, sides
    from promptvc.secrets import find_secrets
    from promptvc.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        staged_repo(root)
        os.chdir(root)
        ws = Workspace.open()
        compared = sides(ws, None)
        texts = [p.read_text() for p in sorted((root / "prompts").glob("p*.jinja"))]
        size = sum(len(t) for t in texts) + sum(
            len(p.read_text()) for p in (root / "evals").glob("*.yaml")
        )
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            assert not _refuse_secrets(ws, compared)
            runs.append(time.perf_counter() - started)
        scans = []
        for _ in range(7):
            started = time.perf_counter()
            for i, text in enumerate(texts):
                find_secrets(f"p{i}", text)
            scans.append(time.perf_counter() - started)
    print(f"secret scan · {FILES} staged files, {size / 1000:.0f} kB")
    report("read from the index and scan (median of 7)", median(runs), 0.020)
    report(f"scan alone, {len(texts)} prompt files (median of 7)", median(scans))


if __name__ == "__main__":
    main()
