"""The history browser with 2,000 commits and 1,000,000 stored results, driven headless by the pilot.

Run by hand: python benchmarks/bench_tui.py
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import git_env, make_repo  # noqa: E402
from timing import report  # noqa: E402

PY = sys.executable


def populate(root: Path) -> int:
    """Scores for every set at every commit, and 1,000,000 results behind them."""
    db = sqlite3.connect(root / ".promptvc/promptvc.db")
    keys = [r[0] for r in db.execute("SELECT DISTINCT set_key FROM commit_sets WHERE set_id != ''")]
    with db:
        db.executemany(
            "INSERT OR IGNORE INTO set_scores (set_key, set_id, score, status, cases, passed, provider) "
            "VALUES (?, 'g', ?, 'passed', 2, 2, 'anthropic')",
            ((k, 0.5 + (i % 50) / 100) for i, k in enumerate(keys)),
        )
        db.executemany(
            "INSERT INTO results (key, set_key, set_id, case_id, sample, status, score, passed, output) "
            "VALUES (?, ?, 'g', ?, 0, 'passed', 1.0, 1, 'answer')",
            ((f"r{i}", keys[i % len(keys)], f"c{i // len(keys)}") for i in range(1_000_000)),
        )
    return len(keys)


async def measure(root: Path) -> None:
    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser
    from promptvc.workspace import Workspace

    os.chdir(root)
    started = time.perf_counter()
    app = PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)
    updated: list[float] = []
    show_commit = app.show_commit

    def timed_show_commit(point):
        show_commit(point)
        updated.append(time.perf_counter())

    app.show_commit = timed_show_commit
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        rows = app.query_one("#commits").row_count
        moves, round_trips = [], []
        for _ in range(20):
            pressed = time.perf_counter()
            await pilot.press("down")
            round_trips.append(time.perf_counter() - pressed)
            moves.append(updated[-1] - pressed)
    report(f"launch to the first screen with scores ({rows} commits)", first, target=1.0)
    report("key press to commit view updated (median of 20)", sorted(moves)[10], target=0.05)
    report(
        "pilot round trip of one key (includes the repaint and the pilot's own waits)",
        sorted(round_trips)[10],
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(
            Path(tmp) / "repo", prompts=20, goldens=20, cases=2, commits=2000, changed_per_commit=1
        )
        env = git_env()
        started = time.perf_counter()
        subprocess.run(
            [PY, "-m", "promptvc", "log", "-n", "1", "--json"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                PY,
                "-c",
                "from promptvc.workspace import Workspace; from promptvc.store import Store; "
                "from promptvc.history import history; ws = Workspace.open(); "
                "history(ws, Store(ws.db_path))",
            ],
            cwd=root,
            env=env,
            check=True,
        )
        print("promptvc tui · 2,000 commits, 1,000,000 results (headless pilot)")
        report(
            "first open ever: set keys of 2,000 commits computed and stored",
            time.perf_counter() - started,
        )
        keys = populate(root)
        print(f"  ({keys} distinct set keys, 1,000,000 results stored)")
        asyncio.run(measure(root))


if __name__ == "__main__":
    main()
