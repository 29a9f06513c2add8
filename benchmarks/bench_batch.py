"""`promptvc eval --batch` of 2,000 uncached cases against the tests' Messages-API server (in
this process, batches ending at once): one create, a few polls, 2,000 answers stored.

Run by hand: python benchmarks/bench_batch.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from synth import git_env, make_repo  # noqa: E402
from timing import report, time_command  # noqa: E402

from tests.model_server import ModelServer, serving  # noqa: E402

PY = sys.executable


def main() -> None:
    with serving(ModelServer()) as server, tempfile.TemporaryDirectory() as tmp:
        env = {**git_env(), "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "bench"}
        env["PYTHONPATH"] = str(HERE.parent)  # this checkout, not an installed promptvc
        root = make_repo(
            Path(tmp) / "batch", prompts=50, goldens=50, cases=40, commits=1, provider="anthropic"
        )
        args = [PY, "-m", "promptvc", "eval", "--batch", "--no-cache"]
        print("promptvc eval --batch · 50 sets × 40 cases, uncached (--no-cache)")
        elapsed = time_command(args, root, env, runs=3)
        runs = max(server.batch_creates, 1)
        creates = server.batch_creates / runs
        polls = sum(
            1 for r in server.requests if r["body"] is None and not r["path"].endswith("/results")
        )
        sent = sum(
            len(r["body"]["requests"])
            for r in server.requests
            if r["path"] == "/v1/messages/batches"
        )
        report(f"2,000 requests: {creates:g} create, {polls / runs:g} polls per run", elapsed)
        print(f"  requests in batches per run: {sent // runs:,}; /v1/messages calls: 0")


if __name__ == "__main__":
    main()
