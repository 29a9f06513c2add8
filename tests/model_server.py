"""A small Messages-API server on 127.0.0.1 for tests: answers by rule or from a queue (text, or
content blocks such as tool_use), can be slow, can fail with 429/529/500 (or any status and
error body) for the first N calls, can send raw bodies (malformed ones) or drip its answer a
byte at a time, and records every request.

It also speaks OpenAI's chat completions at any path ending in /chat/completions (the same
rules, queue and failures; `stop_reason` "max_tokens" is sent as finish_reason "length"), and
answers the paths the Bedrock and Vertex clients post to as it answers /v1/messages.

/v1/messages/count_tokens counts a word a token over the system text and the messages (failing
like the others), recorded in `requests` as every call is.

Prompt caching is simulated: a request whose blocks carry `cache_control` reports the words up
to its last breakpoint as `cache_creation_input_tokens` the first time that prefix is seen (for
the model) and as `cache_read_input_tokens` after, a shorter cached prefix read and the rest
written; a prefix under `cache_min_tokens` words is not cached. Chat completions report
`cached_tokens` as OpenAI does, in usage.prompt_tokens_details, when it is set.

The Message Batches endpoints (create, retrieve, results as JSON Lines at the `results_url`,
cancel) answer each request of a batch as /v1/messages would; a batch ends `batch_delay` seconds
after it was created, and `batch_fail` of its requests (counted across batches) end as
`batch_fail_kind` instead (errored, expired or canceled). `batch_creates` counts the creates."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class ModelServer:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    # A reply is text, or a list of content blocks (text and tool_use blocks) sent as they are.
    rule: Callable[[dict], str | list[dict]] | None = None
    queue: list[str | list[dict]] = field(default_factory=list)
    delay: float = 0.0
    fail_first: int = 0
    fail_status: int = 529
    retry_after: str | None = None
    stop_reason: str = "end_turn"
    error_body: dict | None = None  # the body of a failure (default: overloaded_error)
    raw: list[bytes] = field(default_factory=list)  # 200 bodies sent as they are, one per call
    drip: float = 0.0  # seconds between the bytes of a 200 body
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_sent: int = 0
    prompt_cache: set[str] = field(default_factory=set)  # the prefixes cached so far
    cache_min_tokens: int = 0
    cached_tokens: int | None = None  # what an OpenAI-compatible endpoint says it read from cache
    batches: dict[str, dict] = field(default_factory=dict)  # id: {"requests", "created", ...}
    batch_delay: float = 0.0
    batch_fail: int = 0
    batch_fail_kind: str = "errored"
    batch_error_type: str = "api_error"  # an errored request's error type
    batch_creates: int = 0

    def reply_for(self, body: dict) -> str | list[dict]:
        if self.queue:
            return self.queue.pop(0)
        if self.rule:
            return self.rule(body)
        return "ok"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.failures_sent = 0


def count_words(body: dict) -> int:
    """The test server's token count: a word a token, over the system text and every message."""
    parts = [body.get("system") or ""]
    for message in body.get("messages", []):
        content = message["content"]
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return sum(len(str(part).split()) for part in parts)


def last_user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def _handler(server: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):  # keep test output clean
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with server.lock:
                server.requests.append(
                    {"path": self.path, "body": body, "headers": dict(self.headers)}
                )
            if "/messages/batches" in self.path:
                _batch_post(self, server, body)
                return
            with server.lock:
                fail = server.failures_sent < server.fail_first
                if fail:
                    server.failures_sent += 1
            if server.delay:
                time.sleep(server.delay)
            if self.path.endswith("/messages/count_tokens") and not fail:
                self._send(200, {"input_tokens": count_words(body)})
                return
            if fail:
                error = server.error_body or {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "busy"},
                }
                self._send(server.fail_status, error, retry=True)
                return
            with server.lock:
                raw = server.raw.pop(0) if server.raw else None
                text = server.reply_for(body) if raw is None else ""
            if raw is not None:
                self._send_bytes(200, raw)
                return
            if self.path.endswith("/chat/completions"):
                words = max(1, len(str(text).split()))
                self._send(200, _completion(server, body, text, words))
                return
            self._send(200, _message(server, body, text, _model_in(self.path)))

        def do_GET(self):
            with server.lock:
                server.requests.append(
                    {"path": self.path, "body": None, "headers": dict(self.headers)}
                )
            _batch_get(self, server)

        def _send(self, status: int, payload: dict, retry: bool = False):
            self._send_bytes(status, json.dumps(payload).encode(), retry)

        def _send_bytes(self, status: int, data: bytes, retry: bool = False):
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if retry and server.retry_after is not None:
                self.send_header("retry-after", server.retry_after)
            self.end_headers()
            if status == 200 and server.drip:
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(server.drip)
                return
            self.wfile.write(data)

    return Handler


def _message(server: ModelServer, body: dict, text: str | list[dict], model: str) -> dict:
    content = [{"type": "text", "text": text}] if isinstance(text, str) else text
    calls = any(block.get("type") == "tool_use" for block in content)
    words = max(1, len(json.dumps(content).split()) if calls else len(str(text).split()))
    return {
        "id": f"msg_{len(server.requests)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", model) + "-20990101",
        "content": content,
        "stop_reason": "tool_use" if calls else server.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": words, **_cache_usage(server, body)},
    }


def _batch_post(handler, server: ModelServer, body: dict) -> None:
    """POST /v1/messages/batches (create) and /v1/messages/batches/{id}/cancel."""
    path = handler.path.split("?")[0]
    if path.endswith("/cancel"):
        batch_id = path.split("/")[-2]
        with server.lock:
            batch = server.batches.get(batch_id)
            if batch is not None:
                batch["canceled"] = True
        if batch is None:
            handler._send(404, _not_found(batch_id))
            return
        handler._send(200, _batch_object(server, batch_id))
        return
    with server.lock:
        server.batch_creates += 1
        batch_id = f"msgbatch_{server.batch_creates:04d}"
        outcomes = {}
        for item in body["requests"]:
            if server.batch_fail > 0:
                server.batch_fail -= 1
                outcomes[item["custom_id"]] = server.batch_fail_kind
        server.batches[batch_id] = {
            "requests": body["requests"],
            "created": time.monotonic(),
            "outcomes": outcomes,
            "canceled": False,
        }
    handler._send(200, _batch_object(server, batch_id))


def _batch_get(handler, server: ModelServer) -> None:
    """GET /v1/messages/batches/{id} (retrieve) and /v1/messages/batches/{id}/results."""
    parts = handler.path.split("?")[0].rstrip("/").split("/")
    results = parts[-1] == "results"
    batch_id = parts[-2] if results else parts[-1]
    with server.lock:
        known = batch_id in server.batches
    if not known:
        handler._send(404, _not_found(batch_id))
        return
    if not results:
        handler._send(200, _batch_object(server, batch_id))
        return
    lines = [json.dumps(line) for line in _batch_results(server, batch_id)]
    handler._send_bytes(200, ("\n".join(lines) + "\n").encode())


def _ended(server: ModelServer, batch: dict) -> bool:
    return batch["canceled"] or time.monotonic() - batch["created"] >= server.batch_delay


def _batch_object(server: ModelServer, batch_id: str) -> dict:
    with server.lock:
        batch = server.batches[batch_id]
        ended = _ended(server, batch)
        kinds = [
            _outcome(batch, item["custom_id"]) if ended else "processing"
            for item in batch["requests"]
        ]
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": {
            kind: kinds.count(kind)
            for kind in ("processing", "succeeded", "errored", "canceled", "expired")
        },
        "created_at": "2026-11-20T10:00:00Z",
        "expires_at": "2026-11-21T10:00:00Z",
        "ended_at": "2026-11-20T10:00:01Z" if ended else None,
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": f"{server.url}/v1/messages/batches/{batch_id}/results" if ended else None,
    }


def _outcome(batch: dict, custom_id: str) -> str:
    return batch["outcomes"].get(custom_id) or ("canceled" if batch["canceled"] else "succeeded")


def _batch_results(server: ModelServer, batch_id: str) -> Iterator[dict]:
    batch = server.batches[batch_id]
    for item in batch["requests"]:
        kind = _outcome(batch, item["custom_id"])
        if kind == "succeeded":
            with server.lock:
                text = server.reply_for(item["params"])
            result = {"type": "succeeded", "message": _message(server, item["params"], text, "")}
        elif kind == "errored":
            error = {"type": server.batch_error_type, "message": "the request failed"}
            result = {"type": "errored", "error": {"type": "error", "error": error}}
        else:
            result = {"type": kind}
        yield {"custom_id": item["custom_id"], "result": result}


def _not_found(batch_id: str) -> dict:
    error = {"type": "not_found_error", "message": f"no batch {batch_id}"}
    return {"type": "error", "error": error}


FINISH_REASONS = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _completion(server: ModelServer, body: dict, text: str, words: int) -> dict:
    return {
        "id": f"chatcmpl-{len(server.requests)}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "unknown") + "-20990101",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": FINISH_REASONS.get(server.stop_reason, server.stop_reason),
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": words,
            "total_tokens": 100 + words,
            **(
                {"prompt_tokens_details": {"cached_tokens": server.cached_tokens}}
                if server.cached_tokens is not None
                else {}
            ),
        },
    }


def cache_prefixes(body: dict) -> list[tuple[str, int]]:
    """(key, words) of the prefix that ends at each `cache_control` block, in order."""
    blocks = []
    system = body.get("system") or []
    blocks += [("system", b) for b in ([] if isinstance(system, str) else system)]
    for index, message in enumerate(body.get("messages", [])):
        content = message["content"]
        if isinstance(content, list):
            blocks += [(f"{index}:{message['role']}", b) for b in content]
        else:
            blocks.append((f"{index}:{message['role']}", {"type": "text", "text": content}))
    prefixes, seen, words = [], [body.get("model", "")], 0
    if isinstance(system, str):
        seen.append(system)
        words += len(system.split())
    for where, block in blocks:
        seen.append(f"{where}\0{block.get('text', '')}")
        words += len(str(block.get("text", "")).split())
        if "cache_control" in block:
            prefixes.append((hashlib.sha256("\0\1".join(seen).encode()).hexdigest(), words))
    return prefixes


def _cache_usage(server: ModelServer, body: dict) -> dict:
    prefixes = [p for p in cache_prefixes(body) if p[1] >= server.cache_min_tokens]
    if not cache_prefixes(body):
        return {}
    if not prefixes:
        return {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    with server.lock:
        read = max((words for key, words in prefixes if key in server.prompt_cache), default=0)
        server.prompt_cache.update(key for key, _words in prefixes)
    return {"cache_creation_input_tokens": prefixes[-1][1] - read, "cache_read_input_tokens": read}


def _model_in(path: str) -> str:
    """The model a Bedrock (/model/M/invoke) or Vertex (.../models/M:rawPredict) client put in
    the path instead of the body."""
    from urllib.parse import unquote

    for marker, end in (("/model/", "/invoke"), ("/models/", ":rawPredict")):
        if marker in path and end in path:
            return unquote(path.split(marker, 1)[1].split(end, 1)[0])
    return "unknown"


CASE_MARKER = re.compile(r"\[case:([^\]\s]+)\]")
_OUTPUT = re.compile(r"<output>\n?(.*?)\n?</output>", re.DOTALL)


@dataclass
class StochasticModel:
    """A seeded model for measuring the gate: a case's question carries a marker (`[case:ID]` in
    the last user text) and each request for it is answered `correct` with probability
    `p_correct[ID]`, else `wrong`; a judge prompt (one that asks for `Score: N`) is answered with
    the truth (5 if the graded output holds `correct`, 1 if not) plus seeded Gaussian noise of
    sd `judge_noise`, rounded and clipped to 1..5.

    promptvc's sample index is in its cache key but not in the HTTP body, so the samples of a
    case are identical requests: each answer is drawn from a hash of (seed, body, how many
    identical requests came before). The answers to a run therefore do not depend on the order
    in which concurrent requests arrive, only on how many of each were sent."""

    seed: int
    p_correct: dict[str, float] = field(default_factory=dict)
    judge_noise: float = 0.0
    correct: str = "The code word is ORCHID."
    wrong: str = "I do not know the code word."
    unknown: list[str] = field(default_factory=list)  # questions that carried no known marker
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict) -> str:
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
        with self._lock:
            nonce = self._seen[canonical]
            self._seen[canonical] += 1
        draw = random.Random(_digest(self.seed, canonical, nonce))
        if _is_judge(body):
            return self._judge(last_user_text(body), draw)
        return self._answer(last_user_text(body), draw)

    def _answer(self, question: str, draw: random.Random) -> str:
        found = CASE_MARKER.search(question)
        p = self.p_correct.get(found[1]) if found else None
        if found is None or p is None:
            with self._lock:
                self.unknown.append(question[:200])
            return f"no known case marker in: {question[:80]}"
        return f"{found[1]}: {self.correct if draw.random() < p else self.wrong}"

    def _judge(self, prompt: str, draw: random.Random) -> str:
        graded = _OUTPUT.search(prompt)
        correct = self.correct in (graded[1] if graded else prompt)
        truth = 5 if correct else 1
        score = min(5, max(1, round(truth + draw.gauss(0.0, self.judge_noise))))
        says = "gives the code word" if correct else "does not give the code word"
        return f"The output {says}.\nScore: {score}"


def _digest(seed: int, canonical: str, nonce: int) -> int:
    data = f"{seed}\0{nonce}\0{canonical}".encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _is_judge(body: dict) -> bool:
    """promptvc's judge prompts (built in, and a user's judge.jinja) ask for a `Score: N` line."""
    system = body.get("system") or ""
    text = system if isinstance(system, str) else "".join(b.get("text", "") for b in system)
    return "Score: N" in text or "Score: N" in last_user_text(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default backlog of 5 drops connections when many arrive at once

    def handle_error(self, request, client_address):
        pass  # a client that gave up on a stalled or dripped answer is what the test wanted


@contextmanager
def serving(server: ModelServer) -> Iterator[ModelServer]:
    """Serve `server` on a free port of 127.0.0.1 (its `url`) until the block ends."""
    httpd = _Server(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def model_server(monkeypatch):
    with serving(ModelServer()) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
        yield server
