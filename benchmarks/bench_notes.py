"""Results through git: `log` in a fresh clone over 2,000 noted commits, writing the note of a
200-case run, and pushing 10,000 recorded responses the first time.

Run by hand: python benchmarks/bench_notes.py
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import git_env, make_repo  # noqa: E402
from timing import report, time_command  # noqa: E402

PY = sys.executable
PROMPTVC = [PY, "-m", "promptvc"]


def cpu_of(args: list[str], cwd: Path, env: dict, runs: int = 3) -> float:
    """The least CPU time (user + system) a command takes: on a shared machine its wall time is
    mostly waiting for a core."""
    best = float("inf")
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def note_every_commit(root: Path, env: dict) -> int:
    """Scores for every set at every commit in the store, then one note per commit, written with
    one fast-import (as `notes write` would write them, without 4,000 git processes)."""
    subprocess.run([*PROMPTVC, "log", "-n", "1"], cwd=root, env=env, capture_output=True)
    subprocess.run([*PROMPTVC, "log"], cwd=root, env=env, capture_output=True, check=True)
    db = sqlite3.connect(root / ".promptvc/promptvc.db")
    keys = [r[0] for r in db.execute("SELECT DISTINCT set_key FROM commit_sets WHERE set_id != ''")]
    with db:
        db.executemany(
            "INSERT OR IGNORE INTO set_scores (set_key, set_id, score, status, cases, passed, "
            "provider, created_at) VALUES (?, 'g', ?, 'passed', 2, 2, 'anthropic', '2026-11-20')",
            ((k, 0.5 + (i % 50) / 100) for i, k in enumerate(keys)),
        )
    os.chdir(root)
    from promptvc.notes import dumps, note_for
    from promptvc.store import Store
    from promptvc.workspace import Workspace

    ws = Workspace.open()
    store = Store(ws.db_path)
    commits = ws.repo.run("rev-list", "HEAD").decode().split()
    stream = bytearray(b"commit refs/notes/promptvc\ncommitter b <b@x> 0 +0000\ndata 0\n")
    for sha in commits:
        text = dumps(note_for(ws, store, sha))
        stream += b"N inline %s\ndata %d\n%s\n" % (sha.encode(), len(text), text)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True)
    return len(commits)


def bench_log_in_a_fresh_clone(tmp: Path, env: dict) -> None:
    origin = make_repo(tmp / "origin", prompts=20, goldens=10, commits=2000, changed_per_commit=1)
    noted = note_every_commit(origin, env)
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, env=env)
    subprocess.run([*PROMPTVC, "notes", "fetch"], cwd=clone, env=env, check=True)
    started = time.perf_counter()
    first = subprocess.run([*PROMPTVC, "log"], cwd=clone, env=env, capture_output=True, check=True)
    first_open = time.perf_counter() - started
    assert b"ci" in first.stdout and not (clone / ".promptvc/promptvc.db").stat().st_size == 0
    report(f"log in a fresh clone, {noted} noted commits, first open", first_open, 0.5)
    report(
        f"log in a fresh clone, {noted} noted commits",
        time_command([*PROMPTVC, "log"], clone, env),
        0.5,
    )
    report(
        f"log in a fresh clone, {noted} noted commits (CPU time)",
        cpu_of([*PROMPTVC, "log"], clone, env),
        0.5,
    )
    report(
        f"log --json in a fresh clone, {noted} noted commits",
        time_command([*PROMPTVC, "log", "--json"], clone, env),
        0.5,
    )
    os.chdir(clone)
    from promptvc.history import history
    from promptvc.store import Store
    from promptvc.workspace import Workspace

    ws = Workspace.open()
    store = Store.for_reading(ws.db_path)
    times, cpu = [], []
    for _ in range(5):
        started, used = time.perf_counter(), time.process_time()
        points = history(ws, store)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    assert sum(1 for p in points for s in p.sets.values() if s.source == "ci") == noted * 10
    report(f"the history itself, {noted} noted commits (in process)", min(times), 0.5)
    report(f"the history itself, {noted} noted commits (its CPU time)", min(cpu), 0.5)


def bench_write_a_200_case_note(tmp: Path, env: dict) -> None:
    root = make_repo(tmp / "cases", prompts=1, goldens=1, cases=200, commits=1, provider="echo")
    subprocess.run([*PROMPTVC, "eval"], cwd=root, env=env, capture_output=True)
    os.chdir(root)
    from promptvc.notes import write_notes
    from promptvc.store import Store
    from promptvc.workspace import Workspace

    ws = Workspace.open()
    store = Store(ws.db_path)
    head = ws.repo.resolve("HEAD")
    write_notes(ws, store, [head])  # the commit's set keys are computed once, as by the run
    times = []
    for _ in range(5):
        started = time.perf_counter()
        write_notes(ws, store, [head])
        times.append(time.perf_counter() - started)
    note = json.loads(ws.repo.run("notes", "--ref=promptvc", "show", head))
    assert sum(len(s["case_results"]) for s in note["sets"].values()) == 200
    report("notes write, a 200-case run (in process)", min(times), 0.2)
    report(
        "promptvc notes write, a 200-case run (whole command)",
        time_command([*PROMPTVC, "notes", "write"], root, env),
    )
    report(
        "promptvc notes write, a 200-case run (whole command, CPU time)",
        cpu_of([*PROMPTVC, "notes", "write"], root, env),
    )


def bench_push_10000_responses(tmp: Path, env: dict) -> None:
    root = make_repo(tmp / "responses", prompts=1, goldens=1, commits=1)
    subprocess.run([*PROMPTVC, "log"], cwd=root, env=env, capture_output=True, check=True)
    db = sqlite3.connect(root / ".promptvc/promptvc.db")
    with db:
        db.executemany(
            "INSERT INTO responses (key, provider, endpoint, model, request, text, tokens_in, "
            "tokens_out, created_at, source) VALUES (?, 'anthropic', 'https://api.anthropic.com', "
            "'claude-haiku-4-5', ?, ?, 120, 80, '2026-11-20', 'live')",
            (
                (
                    hashlib.sha256(b"%d" % i).hexdigest(),
                    json.dumps({"messages": [{"role": "user", "content": f"question {i}"}]}),
                    f"answer {i} " * 40,
                )
                for i in range(10_000)
            ),
        )
    bare = tmp / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=root, check=True)
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*PROMPTVC, "responses", "push"], cwd=root, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report("responses push, 10,000 responses the first time", time.perf_counter() - started, 10)
    report(
        "responses push, 10,000 the first time (CPU time, git's included)",
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
        10,
    )
    entries = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "refs/promptvc/responses"],
        cwd=bare,
        capture_output=True,
        check=True,
    ).stdout.count(b"\n")
    assert entries == 10_000, entries
    report(
        "responses push, nothing new",
        time_command([*PROMPTVC, "responses", "push"], root, env, runs=3),
    )


def main() -> None:
    env = git_env()
    os.environ.pop("ANTHROPIC_API_KEY", None)  # the in-process steps compute the same set keys
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, env["PYTHONPATH"])
    with tempfile.TemporaryDirectory() as tmp:
        bench_write_a_200_case_note(Path(tmp), env)
        bench_push_10000_responses(Path(tmp), env)
        bench_log_in_a_fresh_clone(Path(tmp), env)


if __name__ == "__main__":
    main()
