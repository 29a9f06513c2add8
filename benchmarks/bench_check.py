"""The pre-commit hook in a repository of 1,000 prompts.

Run by hand: python benchmarks/bench_check.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval import start_server  # noqa: E402
from synth import git_env, golden_text, make_repo, prompt_text  # noqa: E402
from timing import report  # noqa: E402

PY = sys.executable


def commit_time(root: Path, env: dict, path: str, text: str, runs: int = 5) -> float:
    """Best time of `git commit` of one staged file."""
    times = []
    for n in range(runs):
        (root / path).write_text(text + f"\n# edit {n} {time.time()}\n")
        subprocess.run(["git", "add", path], cwd=root, env=env, check=True)
        started = time.perf_counter()
        proc = subprocess.run(
            ["git", "commit", "-q", "-m", f"edit {n}"],
            cwd=root,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout.decode() + proc.stderr.decode())
    return min(times)


def main() -> None:
    server, url = start_server(0.05)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = make_repo(Path(tmp) / "repo", prompts=1000, goldens=1000, commits=20)
            env = {**git_env(), "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "bench"}
            print("promptvc check as a pre-commit hook · 1,000 prompts")
            without = commit_time(root, env, "README.md", "docs")
            subprocess.run(
                [PY, "-m", "promptvc", "hook", "install"],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
            )
            with_hook = commit_time(root, env, "README.md", "docs")
            report("git commit without the hook (no prompt staged)", without)
            report("git commit with the hook (no prompt staged)", with_hook)
            report("the hook's cost on that commit", with_hook - without, target=0.15)

            # One prompt with 20 golden cases, all answers already in the cache.
            (root / "evals/g0007.yaml").write_text(golden_text(7, cases=20))
            subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
            subprocess.run(
                ["git", "commit", "-q", "-m", "20 cases"],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )
            variants = [prompt_text(7, revision=100 + n) for n in range(2)]
            for text in variants:  # record every answer once
                (root / "prompts/p0007.jinja").write_text(text)
                subprocess.run(
                    [PY, "-m", "promptvc", "eval", "g0007"], cwd=root, env=env, capture_output=True
                )
            timings = []
            for n in range(4):
                (root / "prompts/p0007.jinja").write_text(variants[n % 2])
                subprocess.run(["git", "add", "prompts/p0007.jinja"], cwd=root, env=env, check=True)
                started = time.perf_counter()
                proc = subprocess.run(
                    ["git", "commit", "-q", "-m", f"prompt {n}"],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                )
                timings.append(time.perf_counter() - started)
                if proc.returncode not in (0, 1):
                    raise RuntimeError(proc.stderr.decode())
            report("git commit of 1 prompt with 20 cases, all cached", min(timings), target=1.0)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
