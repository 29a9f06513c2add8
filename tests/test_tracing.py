"""promptvc.trace: OpenTelemetry GenAI spans (seen through the SDK's in-memory exporter) and the
opt-in capture file, redacted before it is written."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import promptvc
from promptvc import tracing
from promptvc.redaction import redact_pii, redact_values


@dataclass(frozen=True)
class Provenance:
    prompt: str
    commit: str
    template_sha: str
    tier: str | None = "fast"
    bundle_hash: str | None = None


@dataclass(frozen=True)
class Request:
    """The shape of promptvc.runtime's PromptRequest, which `trace` reads by attribute only."""

    name: str = "support/answer"
    model: str = "claude-haiku-4-5"
    system: str = "You are a support agent."
    messages: list = field(default_factory=lambda: [{"role": "user", "content": "Hi"}])
    params: dict = field(default_factory=lambda: {"max_tokens": 512, "temperature": 0})
    provenance: Provenance = Provenance("support/answer", "a" * 40, "b" * 40)


MESSAGE = {
    "id": "msg_1",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "text", "text": "Write to help@shop.example, "},
        {"type": "text", "text": "we answer."},
    ],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 42, "output_tokens": 7},
}


@pytest.fixture(scope="module")
def exporter():
    from opentelemetry import trace as otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = otel.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once a process
        provider = TracerProvider()
        otel.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exporter):
    exporter.clear()
    return exporter.get_finished_spans


@pytest.fixture
def capture(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv(tracing.CAPTURE_ENV, str(path))

    def lines() -> list[dict]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return lines


def test_a_traced_call_is_a_genai_span_with_the_prompts_provenance(spans):
    from opentelemetry.trace import SpanKind

    promptvc.trace(Request(), MESSAGE, latency_ms=250)

    (span,) = spans()
    assert span.name == "chat claude-haiku-4-5"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.request.max_tokens": 512,
        "gen_ai.request.temperature": 0,
        "gen_ai.response.model": "claude-haiku-4-5-20251001",
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 42,
        "gen_ai.usage.output_tokens": 7,
        "promptvc.prompt": "support/answer",
        "promptvc.commit": "a" * 40,
        "promptvc.template_sha": "b" * 40,
        "promptvc.tier": "fast",
    }
    assert span.end_time - span.start_time == 250_000_000  # the latency the application measured


def test_the_context_manager_times_the_call_and_records_its_failure(spans, capture):
    class Overloaded(Exception):
        pass

    with pytest.raises(Overloaded):
        with promptvc.traced(Request(), vars={"question": "Hi"}):
            raise Overloaded("529 from jo@example.com's call")

    (span,) = spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "Overloaded"
    assert [event.name for event in span.events] == ["exception"]
    (line,) = capture()
    assert line["error"] == "Overloaded: 529 from [email]'s call"  # redacted too
    assert line["output"] == "" and line["latency_ms"] >= 0


def test_the_context_manager_records_the_response_it_is_handed(spans, capture):
    with promptvc.traced(Request(), vars={"question": "Hi"}) as call:
        response = call.record(MESSAGE)

    assert response is MESSAGE
    assert spans()[0].attributes["gen_ai.usage.output_tokens"] == 7
    assert capture()[0]["output"] == "Write to [email], we answer."


def test_nothing_is_captured_unless_asked(tmp_path, monkeypatch, spans):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(tracing.CAPTURE_ENV, raising=False)

    promptvc.trace(Request(), "an answer", latency_ms=5, vars={"question": "Hi"})

    assert list(tmp_path.iterdir()) == []
    assert len(spans()) == 1


def test_a_capture_line_holds_the_call_with_vars_and_output_redacted(capture):
    card = "4111 1111 1111 1111"
    promptvc.trace(
        Request(),
        MESSAGE,
        latency_ms=1234.5,
        vars={
            "question": f"My card {card} was charged twice, call me on +1 (555) 123-4567",
            "customer": {"emails": ["jo@example.com"], "order": 12345},
        },
    )

    (line,) = capture()
    assert line["format"] == "promptvc.capture/1"
    assert line["prompt"] == "support/answer"
    assert line["provenance"] == {
        "prompt": "support/answer",
        "commit": "a" * 40,
        "template_sha": "b" * 40,
        "tier": "fast",
        "bundle_hash": None,
    }
    assert line["vars"] == {
        "question": "My card [card] was charged twice, call me on [phone]",
        "customer": {"emails": ["[email]"], "order": 12345},
    }
    assert line["output"] == "Write to [email], we answer."
    assert line["tokens"] == {"input": 42, "output": 7}
    assert line["latency_ms"] == 1234.5
    assert line["model"] == "claude-haiku-4-5"
    assert line["response_model"] == "claude-haiku-4-5-20251001"
    assert line["time"].startswith("20")


def test_a_redact_callable_replaces_the_default(capture):
    promptvc.trace(
        Request(),
        "Order for Jo Smith, jo@example.com",
        vars={"name": "Jo Smith"},
        redact=lambda text: redact_pii(text.replace("Jo Smith", "[name]")),
    )

    (line,) = capture()
    assert line["vars"] == {"name": "[name]"}
    assert line["output"] == "Order for [name], [email]"


def test_vars_come_from_the_request_when_it_has_them(capture):
    @dataclass(frozen=True)
    class WithVars(Request):
        vars: dict = field(default_factory=lambda: {"question": "mail a@b.io"})

    promptvc.trace(WithVars(), "ok")

    assert capture()[0]["vars"] == {"question": "mail [email]"}


def test_a_redact_that_fails_writes_nothing_and_never_breaks_the_call(
    tmp_path, monkeypatch, caplog
):
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv(tracing.CAPTURE_ENV, str(path))

    def broken(text: str) -> str:
        raise RuntimeError("no redaction today")

    with caplog.at_level(logging.WARNING, logger="promptvc"):
        promptvc.trace(Request(), "jo@example.com", vars={"q": "x"}, redact=broken)

    assert not path.exists()
    assert "no redaction today" in caplog.text


def test_an_unwritable_capture_file_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(tracing.CAPTURE_ENV, str(tmp_path / "missing-dir" / "calls.jsonl"))

    with caplog.at_level(logging.WARNING, logger="promptvc"):
        promptvc.trace(Request(), "ok")

    assert "could not capture" in caplog.text


def test_calls_from_many_threads_are_whole_lines(capture):
    def calls() -> None:
        for n in range(50):
            promptvc.trace(Request(), "x" * 5000, vars={"n": n})

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = capture()
    assert len(lines) == 400
    assert sorted(line["vars"]["n"] for line in lines) == sorted(list(range(50)) * 8)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("plain text", tracing.Reply("plain text")),
        (None, tracing.Reply("")),
        (
            MESSAGE,
            tracing.Reply(
                "Write to help@shop.example, we answer.",
                "claude-haiku-4-5-20251001",
                "msg_1",
                "end_turn",
                42,
                7,
            ),
        ),
        (
            {
                "id": "chatcmpl-1",
                "model": "gpt-4.1-mini",
                "choices": [
                    {"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            },
            tracing.Reply("Hello", "gpt-4.1-mini", "chatcmpl-1", "stop", 3, 1),
        ),
        (
            SimpleNamespace(
                id="msg_2",
                model="m",
                stop_reason="tool_use",
                content=[
                    SimpleNamespace(type="text", text="Let me look."),
                    SimpleNamespace(type="tool_use", name="lookup", input={}),
                ],
                usage=SimpleNamespace(input_tokens=1, output_tokens=2),
            ),
            tracing.Reply("Let me look.", "m", "msg_2", "tool_use", 1, 2),
        ),
    ],
)
def test_a_response_is_read_whatever_carried_it(response, expected):
    assert tracing.reply_of(response) == expected


def test_without_opentelemetry_tracing_is_a_no_op(capture, monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if not installed
    tracing._tracer.cache_clear()
    try:
        promptvc.trace(Request(), "ok", latency_ms=1)
        with promptvc.traced(Request()) as call:
            call.record("ok")
        assert tracing._tracer() is None
    finally:
        tracing._tracer.cache_clear()
    assert len(capture()) == 2


def test_importing_promptvc_does_not_load_tracing_or_opentelemetry():
    code = (
        "import sys, promptvc; "
        "assert not {m for m in sys.modules if m.startswith(('opentelemetry', 'promptvc.tracing'))}; "
        "assert callable(promptvc.trace) and 'promptvc.tracing' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jo.doe+x@mail.example.co.uk now", "write to [email] now"),
        ("card 4111-1111-1111-1111 and 5500 0000 0000 0004", "card [card] and [card]"),
        ("call 555-123-4567 or +44 20 7946 0958", "call [phone] or [phone]"),
        ("delivered 2026-11-26 at 10:30, 30 days, 1,000 items, id 12345", None),
    ],
)
def test_the_default_redaction(text, expected):
    assert redact_pii(text) == (expected or text)


@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,12}", fullmatch=True),
    host=st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_an_email_never_survives_redaction(user, host, before, after):
    email = f"{user}@{host}.com"
    assert email not in redact_pii(f"{before} {email} {after}")


def test_redaction_reaches_every_string_and_keeps_the_rest():
    @dataclass
    class Customer:
        email: str

    value = {
        "a": ["jo@x.io", 3, 2.5, True, None],
        "b": {"c": "fine"},
        "card": 4111111111111111,
        "who": Customer("jo@x.io"),
    }
    assert redact_values(value, redact_pii) == {
        "a": ["[email]", 3, 2.5, True, None],
        "b": {"c": "fine"},
        "card": "[card]",
        "who": "test_redaction_reaches_every_string_and_keeps_the_rest.<locals>.Customer(email='[email]')",
    }


def test_a_response_of_an_unexpected_shape_is_logged_not_raised(capture, caplog, spans):
    with caplog.at_level(logging.WARNING, logger="promptvc"):
        promptvc.trace(Request(), SimpleNamespace(content=42), latency_ms=1)
        with promptvc.traced(Request()) as call:
            call.record(SimpleNamespace(content=42))

    assert caplog.text.count("could not read the response") == 2
    assert len(spans()) == 2  # ended all the same
