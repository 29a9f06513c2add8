"""Production traces: a call made with a rendered prompt, recorded as an OpenTelemetry span (when
`opentelemetry-api` is installed) and, opt-in, as one JSON line of a capture file.

The application passes back what it got: `trace(req, response, latency_ms=...)`, or
`with traced(req) as call: call.record(client.messages.create(**req.anthropic()))`. `req` is
read by attribute only (name, model, params, provenance, and vars when it has them), so any
object of that shape will do. The span carries no prompt or output text, only what the
OpenTelemetry GenAI conventions call metadata; the capture file holds vars and output, redacted
before they are written. Recording never raises into the application: a capture file that
cannot be written, or a `redact` that fails, is logged (logger `promptvc`), nothing is written,
and the call goes on.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from promptvc.clock import now
from promptvc.redaction import Redactor, redact_pii, redact_values

CAPTURE_ENV = "PROMPTVC_CAPTURE"
CAPTURE_FORMAT = "promptvc.capture/1"
# Request parameters with a GenAI semantic-convention name.
_REQUEST_ATTRIBUTES = {
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop_sequences": "gen_ai.request.stop_sequences",
}
_PROVENANCE = ("prompt", "commit", "template_sha", "tier", "bundle_hash")
_capture_lock = threading.Lock()  # one line at a time from the threads of one process


@dataclass(frozen=True)
class Reply:
    """What a response said, whatever carried it: an Anthropic `Message`, an OpenAI chat
    completion, their JSON as a dict, or plain text."""

    text: str
    model: str | None = None
    id: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def reply_of(response: Any) -> Reply:
    if response is None or isinstance(response, str):
        return Reply(response or "")
    if isinstance(response, Mapping):
        return _reply_of_fields(response.get)
    return _reply_of_fields(lambda name: getattr(response, name, None))


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _reply_of_fields(get) -> Reply:
    usage = get("usage")
    choices = get("choices")
    if choices:  # an OpenAI chat completion
        first = choices[0]
        text = _field(_field(first, "message"), "content") or ""
        return Reply(
            text,
            get("model"),
            get("id"),
            _field(first, "finish_reason"),
            _field(usage, "prompt_tokens"),
            _field(usage, "completion_tokens"),
        )
    content = get("content")
    if isinstance(content, str):
        text = content
    else:
        text = "".join(
            _field(block, "text") or ""
            for block in content or ()
            if _field(block, "type") in ("text", None)
        )
    return Reply(
        text,
        get("model"),
        get("id"),
        get("stop_reason"),
        _field(usage, "input_tokens"),
        _field(usage, "output_tokens"),
    )


def trace(
    req: Any,
    response: Any,
    *,
    latency_ms: float | None = None,
    vars: Mapping[str, Any] | None = None,
    redact: Redactor | None = None,
) -> None:
    """Record one call that the application made with `req` and got `response` from."""
    end = time.time_ns()
    start = end - int(latency_ms * 1_000_000) if latency_ms is not None else end
    _record(req, _start_span(req, start), end, response, latency_ms, vars, redact, None)


class TracedCall:
    """The call inside `traced(...)`: hand it the response with `record`."""

    def __init__(self) -> None:
        self.response: Any = None

    def record(self, response: Any) -> Any:
        self.response = response
        return response


@contextmanager
def traced(
    req: Any,
    *,
    vars: Mapping[str, Any] | None = None,
    redact: Redactor | None = None,
) -> Iterator[TracedCall]:
    """Time the call made inside the block; an exception is recorded (on the span and in the
    capture, as `error`) and raised on."""
    call = TracedCall()
    started = time.perf_counter()
    span = _start_span(req, time.time_ns())
    error: BaseException | None = None
    try:
        yield call
    except BaseException as exc:
        error = exc
        raise
    finally:
        latency_ms = (time.perf_counter() - started) * 1000
        _record(req, span, time.time_ns(), call.response, latency_ms, vars, redact, error)


def _record(req, span, end_ns: int, response, latency_ms, vars, redact, error) -> None:
    try:
        reply = reply_of(response)
        if span is not None:
            _finish_span(span, reply, error, end_ns)
    except Exception as exc:  # a response of a shape nobody expected: the call goes on
        _warn(f"could not read the response: {exc}")
        if span is not None and span.is_recording():
            span.end(end_time=end_ns)
        return
    _capture(req, reply, latency_ms, vars, redact, error)


def _warn(message: str) -> None:
    import logging

    logging.getLogger("promptvc").warning(message)


@functools.cache
def _tracer():
    try:
        from opentelemetry import trace as otel
    except ImportError:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:  # not `promptvc.__version__`: the package re-exports the runtime, which reaches an SDK
        installed = version("promptvc")
    except PackageNotFoundError:
        installed = None
    return otel.get_tracer("promptvc", installed)


def _start_span(req: Any, start_ns: int):
    tracer = _tracer()
    if tracer is None:
        return None
    try:
        return _span_of(tracer, req, start_ns)
    except Exception as exc:
        _warn(f"could not start a span: {exc}")
        return None


def _span_of(tracer, req: Any, start_ns: int):
    from opentelemetry.trace import SpanKind

    model = getattr(req, "model", None)
    span = tracer.start_span(
        f"chat {model}" if model else "chat", kind=SpanKind.CLIENT, start_time=start_ns
    )
    for key, value in _request_attributes(req).items():
        span.set_attribute(key, value)
    return span


def _request_attributes(req: Any) -> dict[str, Any]:
    system = getattr(req, "provider", None) or "anthropic"
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": system,
        "gen_ai.provider.name": system,  # the newer conventions' name for it
    }
    if getattr(req, "model", None):
        attributes["gen_ai.request.model"] = req.model
    params = getattr(req, "params", None) or {}
    for key, attribute in _REQUEST_ATTRIBUTES.items():
        value = params.get(key)
        if isinstance(value, (str, int, float)) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        ):
            attributes[attribute] = list(value) if isinstance(value, tuple) else value
    provenance = _provenance(req)
    for key in _PROVENANCE:
        if provenance.get(key) is not None:
            attributes[f"promptvc.{key}"] = str(provenance[key])
    return attributes


def _finish_span(span, reply: Reply, error: BaseException | None, end_ns: int) -> None:
    for key, value in (
        ("gen_ai.response.model", reply.model),
        ("gen_ai.response.id", reply.id),
        ("gen_ai.usage.input_tokens", reply.input_tokens),
        ("gen_ai.usage.output_tokens", reply.output_tokens),
    ):
        if value is not None:
            span.set_attribute(key, value)
    if reply.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [str(reply.finish_reason)])
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", type(error).__name__)
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end(end_time=end_ns)


def _provenance(req: Any) -> dict[str, Any]:
    provenance = getattr(req, "provenance", None)
    found = {key: getattr(provenance, key, None) for key in _PROVENANCE}
    if found["prompt"] is None:
        found["prompt"] = getattr(req, "name", None)
    return found


def capture_record(
    req: Any,
    reply: Reply,
    latency_ms: float | None,
    vars: Mapping[str, Any] | None,
    redact: Redactor | None,
    error: BaseException | None = None,
) -> dict[str, Any]:
    """The JSON line of one call; vars and output already redacted."""
    redact = redact or redact_pii
    provenance = _provenance(req)
    call_vars = vars if vars is not None else getattr(req, "vars", None) or {}
    record: dict[str, Any] = {
        "format": CAPTURE_FORMAT,
        "time": now(),
        "prompt": provenance["prompt"],
        "provenance": provenance,
        "model": getattr(req, "model", None),
        "response_model": reply.model,
        "vars": redact_values(dict(call_vars), redact),
        "output": redact(reply.text),
        "tokens": {"input": reply.input_tokens, "output": reply.output_tokens},
        "latency_ms": round(latency_ms, 3) if latency_ms is not None else None,
        "finish_reason": reply.finish_reason,
    }
    if error is not None:
        record["error"] = redact(f"{type(error).__name__}: {error}")
    return record


def _capture(
    req: Any,
    reply: Reply,
    latency_ms: float | None,
    vars: Mapping[str, Any] | None,
    redact: Redactor | None,
    error: BaseException | None,
) -> None:
    path = os.environ.get(CAPTURE_ENV)
    if not path:
        return
    try:
        record = capture_record(req, reply, latency_ms, vars, redact, error)
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with _capture_lock, open(path, "a", encoding="utf-8") as out:
            out.write(line)  # one write of one line, in append mode: whole lines across processes
    except Exception as exc:  # the application's call matters more than its record
        _warn(f"could not capture a call to {path}: {exc}")
