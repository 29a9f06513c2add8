"""`promptvc eval --dry-run` over 2,000 cases with the offline estimate (no key: nothing is
counted or sent), and the same with counted tokens already stored.

Run by hand: python benchmarks/bench_costs.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import git_env, make_repo  # noqa: E402
from timing import report, time_command  # noqa: E402

PY = sys.executable


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = git_env()  # no ANTHROPIC_API_KEY: the offline estimate
        root = make_repo(Path(tmp) / "dry", prompts=50, goldens=50, cases=40, commits=1)
        args = [PY, "-m", "promptvc", "eval", "--dry-run", "--json"]
        out = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=True)
        total = json.loads(out.stdout)["total"]
        print("promptvc eval --dry-run · 50 sets × 40 cases")
        label = f"2,000 cases, offline estimate ({total['requests']:,} requests)"
        before = _children_cpu()
        report(label, time_command(args, root, env, runs=3), target=2.0)
        # The machine is shared: the CPU time of one run says what the wall time hides.
        report("  CPU time of one run (user + system)", (_children_cpu() - before) / 3)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
