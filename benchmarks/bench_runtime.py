"""The runtime API: `import promptvc` plus loading a 1,000-prompt bundle, and `render` of a cached
template from 8 threads.

Run by hand: python benchmarks/bench_runtime.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import git_env, make_repo  # noqa: E402
from timing import report, time_command  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
THREADS, CALLS = 8, 10_000

# Timed inside a fresh interpreter: the import and the load, not the interpreter's own start.
LOAD = """
import time
started = time.perf_counter()
import promptvc
prompts = promptvc.load(bundle={path!r})
loaded = time.perf_counter()
prompts.render(prompts.names()[0], question="q?", context="c")
print(loaded - started, len(prompts.names()), time.perf_counter() - loaded)
"""


def import_and_load(bundle: Path, env: dict, runs: int = 7) -> tuple[float, float]:
    """Best of `runs`: import + load, and the first render after it (jinja2 imported, one
    template compiled)."""
    times, firsts = [], []
    for _ in range(runs):
        out = subprocess.run(
            [PY, "-c", LOAD.format(path=str(bundle))],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out[1] == "1000", out
        times.append(float(out[0]))
        firsts.append(float(out[2]))
    return min(times), min(firsts)


def render_latencies(bundle: Path, threads: int, calls: int, between: float = 0.0) -> list[float]:
    """Per-call seconds of `render` over `calls` calls shared by `threads` threads; `between`:
    seconds each thread then waits off the GIL, as a server thread waits on the model's answer."""
    sys.path.insert(0, str(ROOT))
    import promptvc

    prompts = promptvc.load(bundle=bundle)
    names = prompts.names()[:50]
    for name in names:  # "a cached template": each prepared once before timing
        prompts.render(name, question="warm-up?", context="c")
    per_thread = calls // threads
    results: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def work(slot: int) -> None:
        timings = results[slot]
        start.wait()
        for i in range(per_thread):
            name = names[(slot + i) % len(names)]
            began = time.perf_counter()
            prompts.render(name, question=f"question {i}?", context="some context")
            timings.append(time.perf_counter() - began)
            if between:
                time.sleep(between)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [t for timings in results for t in timings]


def report_us(label: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds < target else "MISSED"
    print(f"  {label:<58} {seconds * 1e6:9.1f} µs   target < {target * 1e6:.0f} µs: {verdict}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    env = {**git_env(), "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp) / "repo", prompts=1000, goldens=10, commits=1)
        bundle = Path(tmp) / "prompts.bundle.json"
        print("promptvc runtime · a bundle of 1,000 prompts")
        made = time_command(
            [PY, "-m", "promptvc", "bundle", "-o", str(bundle)], cwd=root, env=env, runs=1
        )
        report(f"promptvc bundle ({bundle.stat().st_size / 1e6:.1f} MB)", made)
        loading, first = import_and_load(bundle, env)
        report("import promptvc + load(bundle=...)", loading, 0.150)
        report("then the first render (imports jinja2, compiles one template)", first)
        # With 8 threads the p99 is mostly the wait for the GIL: a thread that holds it past the
        # switch interval (5 ms) is made to give it up, often mid-render, and waits for the others.
        # Between renders, an application's threads wait on the model (`between`): then a render
        # rarely finds the GIL taken, and its p99 is the render's own.
        for threads, between in ((1, 0.0), (THREADS, 0.0), (THREADS, 0.002)):
            started = time.perf_counter()
            latencies = render_latencies(bundle, threads, CALLS, between)
            elapsed = time.perf_counter() - started
            waiting = (
                f", {between * 1e3:g} ms off the GIL after each" if between else ", back to back"
            )
            label = f"render, {len(latencies):,} calls, {threads} thread(s){waiting}"
            print(f"  {label}: {len(latencies) / elapsed:,.0f} renders/s")
            median, p99 = statistics.median(latencies), percentile(latencies, 0.99)
            report_us(f"{label}: median", median, 100e-6)
            report_us(f"{label}: p99", p99, 1e-3)


if __name__ == "__main__":
    main()
