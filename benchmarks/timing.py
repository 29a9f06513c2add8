"""Timing helpers: the best of a few runs of a whole command, start-up included."""

from __future__ import annotations

import statistics
import subprocess
import time


def time_command(args: list[str], cwd, env=None, runs: int = 5, check: bool = True) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
        if check and proc.returncode not in (0, 1):
            raise RuntimeError(f"{args} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return min(times)


def report(label: str, seconds: float, target: float | None = None) -> None:
    verdict = ""
    if target is not None:
        verdict = f"   target < {target:.3g} s: {'ok' if seconds < target else 'MISSED'}"
    print(f"  {label:<58} {seconds * 1000:9.1f} ms{verdict}")


def median(values) -> float:
    return statistics.median(values)
