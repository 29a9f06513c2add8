"""promptvc diff on a synthetic repository of 1,000 prompts and 200 commits.

Run by hand: python benchmarks/bench_diff.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import fast_import, git_env, make_repo, tiers_yaml  # noqa: E402
from timing import report, time_command  # noqa: E402

PY = sys.executable


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, prompts=1000, goldens=1000, commits=200)
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        fast_import(
            root,
            [
                (
                    "fast tier moves to a new model",
                    {"prompts/tiers.yaml": tiers_yaml("claude-haiku-4-6")},
                )
            ],
            branch="tier-change",
            parent=head,
        )
        env = git_env()
        cache = Path(tmp) / "cache"  # the template cache, cleared for each cold run
        env["XDG_CACHE_HOME"] = str(cache)
        print("promptvc diff · 1,000 prompts, 1,000 golden sets, 200 commits")
        click = time_command([PY, "-c", "import click"], root, env)
        report("python -c 'import click'", click)
        report("git diff HEAD~1", time_command(["git", "diff", "HEAD~1"], root, env))
        help_time = time_command([PY, "-m", "promptvc", "--help"], root, env)
        report("promptvc --help", help_time, target=2 * click)
        shutil.rmtree(cache, ignore_errors=True)
        report(
            "promptvc diff HEAD~1 (5 prompts changed), cold",
            time_command([PY, "-m", "promptvc", "diff", "HEAD~1"], root, env, runs=1),
        )
        report(
            "promptvc diff HEAD~1 (5 prompts changed)",
            time_command([PY, "-m", "promptvc", "diff", "HEAD~1"], root, env),
            target=0.35,
        )
        subprocess.run(["git", "checkout", "-q", "tier-change"], cwd=root, check=True)
        out = subprocess.run(
            [PY, "-m", "promptvc", "diff", "--name-only", "HEAD~1"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.split()
        shutil.rmtree(cache, ignore_errors=True)
        label = f"promptvc diff HEAD~1 (tiers.yaml change reaching {len(out)} prompts)"
        report(
            label + ", cold",
            time_command([PY, "-m", "promptvc", "diff", "HEAD~1"], root, env, runs=1),
        )
        report(
            label,
            time_command([PY, "-m", "promptvc", "diff", "HEAD~1"], root, env, runs=3),
            target=1.5,
        )


if __name__ == "__main__":
    main()
