"""What recording a production call costs the application, and `promote` over a large capture.

Run by hand: python benchmarks/bench_trace.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import promptvc  # noqa: E402
from promptvc import tracing  # noqa: E402

CALLS = 10_000
MESSAGE = {
    "id": "msg_1",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "You have 30 days from delivery. " * 10}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 412, "output_tokens": 57},
}


@dataclass(frozen=True)
class Provenance:
    prompt: str = "support/answer"
    commit: str = "a" * 40
    template_sha: str = "b" * 40
    tier: str = "fast"
    bundle_hash: str | None = None


@dataclass(frozen=True)
class Request:
    name: str = "support/answer"
    model: str = "claude-haiku-4-5"
    params: dict = field(default_factory=lambda: {"max_tokens": 512, "temperature": 0})
    provenance: Provenance = Provenance()


def per_call_us(label: str) -> None:
    req = Request()
    times = []
    for n in range(CALLS):
        variables = {
            "question": f"Can I return item {n}? Mail jo{n}@example.com",
            "policy": "P" * 300,
        }
        started = time.perf_counter()
        promptvc.trace(req, MESSAGE, latency_ms=800, vars=variables)
        times.append(time.perf_counter() - started)
    times.sort()
    median = statistics.median(times) * 1e6
    p99 = times[int(len(times) * 0.99)] * 1e6
    print(f"  {label:<58} median {median:7.1f} µs   p99 {p99:7.1f} µs")


def otel_sdk() -> None:
    from opentelemetry import trace as otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    otel.set_tracer_provider(provider)


def promote_time(directory: Path) -> None:
    root = directory / "repo"
    (root / "prompts/support").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "prompts/support/answer.jinja").write_text(
        "---\ninputs: [question]\n---\n{{ question }}\n"
    )
    (root / "evals/support.yaml").write_text(
        "prompt: support/answer\ncases:\n  - id: a\n    vars: {question: A}\n"
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "i"], cwd=root, env=env, check=True)
    capture = directory / "calls.jsonl"
    with capture.open("w") as out:
        for n in range(CALLS):
            out.write(
                json.dumps(
                    {
                        "prompt": "support/answer",
                        "vars": {"question": f"Q{n % 2000}"},
                        "output": "A",
                    }
                )
                + "\n"
            )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "promptvc", "promote", str(capture)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    print(
        f"  {'promote 10,000 captured calls (2,000 distinct) into one set':<58} {elapsed * 1000:9.1f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        os.environ.pop(tracing.CAPTURE_ENV, None)
        per_call_us("trace(), no capture, no tracer provider")
        os.environ[tracing.CAPTURE_ENV] = str(directory / "bench.jsonl")
        per_call_us("trace(), capture with the default redaction")
        otel_sdk()
        per_call_us("trace(), capture + OpenTelemetry SDK span (in memory)")
        os.environ.pop(tracing.CAPTURE_ENV)
        promote_time(directory)


if __name__ == "__main__":
    main()
