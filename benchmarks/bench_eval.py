"""promptvc eval against a local Messages-API server (own process, fixed 200 ms latency),
and promptvc log over 1,000,000 stored results.

Run by hand: python benchmarks/bench_eval.py
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import git_env, make_repo, prompt_text  # noqa: E402
from timing import report, time_command  # noqa: E402

PY = sys.executable
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([PY, str(HERE / "model_server.py"), str(port), str(latency)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/count", timeout=0.2)
            break
        except OSError:
            time.sleep(0.05)
    return proc, url


def count(url: str) -> int:
    return json.loads(urllib.request.urlopen(url + "/count").read())["count"]


def timed(args, cwd, env) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr[-800:])
    return elapsed, proc


def main() -> None:
    server, url = start_server(0.2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**git_env(), "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "bench"}
            print("promptvc eval · local server, 200 ms per request")
            root = make_repo(Path(tmp) / "uncached", prompts=50, goldens=50, cases=8, commits=1)
            before = count(url)
            elapsed, _ = timed([PY, "-m", "promptvc", "eval", "--concurrency", "32"], root, env)
            report(
                f"400 uncached cases at concurrency 32 ({count(url) - before} requests)",
                elapsed,
                target=4.5,
            )

            root = make_repo(Path(tmp) / "cached", prompts=50, goldens=50, cases=40, commits=1)
            timed(
                [PY, "-m", "promptvc", "eval", "--concurrency", "64"], root, env
            )  # fill the store
            before = count(url)
            elapsed = time_command([PY, "-m", "promptvc", "eval"], root, env, runs=3)
            imports = subprocess.run(
                [PY, "-X", "importtime", "-m", "promptvc", "eval"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
            ).stderr
            sdk = "anthropic" in {
                line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines()
            }
            report(
                f"2,000 cached cases ({count(url) - before} requests, SDK imported: {sdk})",
                elapsed,
                target=1.0,
            )

            (root / "prompts/p0007.jinja").write_text(prompt_text(7, revision=99))
            before = count(url)
            elapsed, _ = timed([PY, "-m", "promptvc", "eval"], root, env)
            report(
                f"1 of 50 prompts changed: {count(url) - before} requests for its 40 cases", elapsed
            )

            bench_log(Path(tmp) / "log", env)
    finally:
        server.terminate()


def bench_log(root: Path, env: dict) -> None:
    """1,000,000 stored results; `promptvc log` for one set."""
    make_repo(root, prompts=20, goldens=20, cases=2, commits=200)
    subprocess.run(
        [PY, "-m", "promptvc", "log", "-n", "1"], cwd=root, env=env, capture_output=True, check=True
    )
    db = sqlite3.connect(root / ".promptvc/promptvc.db")
    keys = [r[0] for r in db.execute("SELECT DISTINCT set_key FROM commit_sets WHERE set_id != ''")]
    started = time.perf_counter()
    with db:
        db.executemany(
            "INSERT INTO results (key, set_key, set_id, case_id, sample, status, score, passed) "
            "VALUES (?, ?, 'g0000', ?, 0, 'passed', 1.0, 1)",
            ((f"r{i}", keys[i % len(keys)], f"c{i}") for i in range(1_000_000)),
        )
        db.executemany(
            "INSERT OR IGNORE INTO set_scores (set_key, set_id, score, status, cases, passed, provider) "
            "VALUES (?, 'g0000', 0.9, 'passed', 2, 2, 'anthropic')",
            ((k,) for k in keys),
        )
    print(f"  (stored 1,000,000 results in {time.perf_counter() - started:.1f} s)")
    report(
        "promptvc log g0000 (200 commits, 1,000,000 results)",
        time_command([PY, "-m", "promptvc", "log", "g0000"], root, env, runs=3),
        target=0.3,
    )


if __name__ == "__main__":
    main()
