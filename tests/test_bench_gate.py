"""benchmarks/bench_gate.py end to end on a few trials, so the benchmark cannot rot silently:
the repository it builds, the stochastic server behind the real SDK, `promptvc check`
in-process, and the figures it prints. Nothing here depends on how the gate weighs evidence,
only on what any gate must do (block a set that went from always right to always wrong, allow
a change that changed nothing)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from tests.model_server import StochasticModel

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gate.py"


@pytest.fixture(scope="module")
def bench_gate():
    spec = importlib.util.spec_from_file_location("bench_gate", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gate"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_gate", None)


def test_a_trial_is_a_fresh_baseline_judged_by_the_real_check(bench_gate, model_server, tmp_path):
    model = StochasticModel(seed=3)
    model_server.rule = model
    root = tmp_path / "repo"
    root.mkdir()
    bench = bench_gate.GateBench(root, model_server, model, cases=6)
    bench.create()
    always = dict.fromkeys(bench_gate.case_ids(6), 1.0)
    never = dict.fromkeys(bench_gate.case_ids(6), 0.0)

    same = bench.trial(always, always)
    assert (same.code, same.calls) == (0, 12), same.output
    worse = bench.trial(always, never)
    assert worse.code == 1 and worse.calls >= 12, worse.output
    asked = {r["body"]["messages"][-1]["content"].split("]")[0] for r in model_server.requests}
    assert {"[case:t2b/c00", "[case:t2h/c05"} <= asked  # both sides were new questions
    assert model.unknown == []
    assert "t1b/c00" in model.p_correct and model.p_correct["t2h/c05"] == 0.0


FIGURES = re.compile(
    r"blocked (\d+)/(\d+) = \d\.\d{3} \(95% CI \d\.\d{3}\.\.\d\.\d{3}\) · (\d+\.\d) calls/check"
)


def test_the_script_prints_a_block_rate_with_its_interval_and_calls(bench_gate, capsys):
    bench_gate.main(["--scenario", "deterministic", "--trials", "1", "--cases", "8"])
    out = capsys.readouterr().out
    assert out.startswith("promptvc check on 8 cases at temperature 1 · assertion contains")
    blocked, trials, calls = FIGURES.search(out).groups()
    assert int(trials) == 1 and 0 <= int(blocked) <= 1 and float(calls) >= 16
    assert "target >= 0.99: " in out


def test_the_cost_comparison_runs_or_says_what_the_gate_lacks(bench_gate, capsys):
    p = bench_gate.drawn_probabilities(1, cases=6)
    with bench_gate.bench_environment(1, "contains", {}, cases=6) as bench:
        bench_gate.run_cost(bench, p, trials=1, seed=1, repeats=(1,))
    out = capsys.readouterr().out
    adaptive = re.search(r"adaptive re-sampling: (.*)", out)[1]
    assert adaptive.startswith(("blocked ", "n/a ([gate] max_repeat = 0 refused: "))
    assert FIGURES.search(re.search(r"fixed repeat  1: (.*)", out)[1])


def test_the_cost_comparison_prices_a_fixed_repeat_against_a_gate_that_re_samples(
    bench_gate, monkeypatch, capsys
):
    """What today's gate cannot show yet: the adaptive rate, then fixed repeats with re-sampling
    off until one blocks as often, and what that costs in calls."""
    configured = []

    class Bench:
        def configure(self, gate, repeat=1):
            configured.append((gate, repeat))

    Rate = bench_gate.Rate
    probe, adaptive = Rate(1, 1, 80.0, 0), Rate(99, 100, 95.0, 1)
    rates = iter([probe, adaptive, Rate(60, 100, 80.0, 1), Rate(99, 100, 320.0, 1)])
    monkeypatch.setattr(bench_gate, "measure", lambda *args: next(rates))
    bench_gate.run_cost(Bench(), {}, trials=100, seed=1, repeats=(1, 4, 8))
    out = capsys.readouterr().out
    assert configured == [
        ({"max_repeat": 0}, 1),  # the probe: the setting is accepted
        ({}, 1),  # the adaptive gate
        ({"max_repeat": 0}, 1),
        ({"max_repeat": 0}, 4),  # blocks as often as the adaptive gate: no repeat 8
    ]
    assert "adaptive re-sampling: blocked 99/100 = 0.990" in out
    assert "the same power costs 3.37× the calls at a fixed repeat" in out


def test_gate_settings_read_as_toml_values(bench_gate):
    assert bench_gate.gate_setting("block_on_flip=always") == ("block_on_flip", "always")
    assert bench_gate.gate_setting("max_drop=0.1") == ("max_drop", 0.1)
    assert bench_gate.gate_setting('block_on = "evidence"') == ("block_on", "evidence")
    assert bench_gate.toml_text({"max_repeat": 0, "offline": "warn"}) == (
        '[gate]\nmax_repeat = 0\noffline = "warn"\n'
    )
