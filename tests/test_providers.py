"""Provider faults: malformed bodies, rejected requests, stalls and drips, credentials in the endpoint."""

import json
import sqlite3

import pytest

from tests.data import answer_by_rule
from tests.helpers import db_rows

MESSAGE = {
    "id": "m",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "30 days"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}

MALFORMED = {
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "truncated": json.dumps(MESSAGE).encode()[:40],
    "not-utf8": json.dumps(MESSAGE)
    .replace("30 days", "30 d\\u00e4ys")
    .encode()
    .replace(b"\\u00e4", b"\xe4"),
    "tokens": json.dumps(
        {**MESSAGE, "usage": {"input_tokens": "lots", "output_tokens": 1}}
    ).encode(),
    "list": b"[1, 2, 3]",
    "content": json.dumps({**MESSAGE, "content": ["x", 5]}).encode(),
    "error-type": json.dumps(
        {"type": "error", "error": {"type": "api_error", "message": "oops"}}
    ).encode(),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_200_is_a_case_error_and_the_run_goes_on(model_repo, model_server, cli, body):
    model_server.rule = answer_by_rule
    model_server.raw = [body]
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 3, out + err
    assert "Traceback" not in err
    assert "malformed response from the API" in out + err
    statuses = sorted(r["status"] for r in db_rows(model_repo, "SELECT status FROM results"))
    assert statuses == ["error", "passed"]
    assert len(db_rows(model_repo, "SELECT * FROM responses")) == 1  # only the message is cached
    # The errored case is asked again next time; nothing malformed was kept.
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 3


NOT_FOUND = {
    "type": "error",
    "error": {"type": "not_found_error", "message": "model: claude-haiku-4-5"},
}
TOO_LONG = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 250000 tokens > 200000 maximum",
    },
}


def test_an_unknown_model_is_a_configuration_error(model_repo, model_server, cli):
    model_server.fail_first, model_server.fail_status, model_server.error_body = (
        1000,
        404,
        NOT_FOUND,
    )
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 2, out + err
    last = err.strip().splitlines()[-1]
    assert "claude-haiku-4-5" in last and "404" in last and "Traceback" not in err
    assert model_server.calls == 1  # the other case of the same model is not sent


def test_a_prompt_too_long_names_the_limit(model_repo, model_server, cli):
    model_server.fail_first, model_server.fail_status, model_server.error_body = 1000, 400, TOO_LONG
    code, out, err = cli("eval")
    assert code == 2, out + err
    assert "200000 maximum" in err.strip().splitlines()[-1]


def test_the_gate_never_allows_what_the_api_rejected(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0  # HEAD's side is stored
    model_server.fail_first, model_server.fail_status, model_server.error_body = (
        1000,
        404,
        NOT_FOUND,
    )
    model_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    model_repo.stage()
    code, out, err = cli("check")
    assert code == 2, out + err
    assert "allowed" not in out and "claude-haiku-4-5" in err


def test_credentials_in_the_base_url_are_never_stored_or_exported(
    model_repo, model_server, cli, monkeypatch, tmp_path
):
    model_server.rule = answer_by_rule
    host = model_server.url.removeprefix("http://")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://alice:hunter2@{host}/?key=sekrit")
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 2
    assert cli("log")[0] == 0
    exported = tmp_path / "responses.jsonl"
    assert cli("responses", "export", str(exported))[0] == 0
    dump = "\n".join(sqlite3.connect(model_repo.root / ".promptvc/promptvc.db").iterdump())
    for text in (dump, exported.read_text(), out, err):
        assert "hunter2" not in text and "sekrit" not in text and "alice" not in text
    assert f"http://{host}" in dump


def test_endpoint_strips_userinfo_query_and_fragment(monkeypatch):
    from promptvc.providers import endpoint

    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://u:p@[::1]:8443/proxy/v1/?token=x#frag")
    assert endpoint() == "https://[::1]:8443/proxy/v1"
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.example/anthropic")
    assert endpoint() == "https://gateway.example/anthropic"


def test_a_migration_scrubs_credentials_from_an_old_database(tmp_path):
    from promptvc.store import Store

    db = tmp_path / "p.db"
    Store(db).close()
    leaky = "http://alice:hunter2@gw.example/?key=sekrit"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE name = 'm003_endpoints_without_credentials'"
        )
        conn.execute(
            "INSERT INTO responses (key, endpoint, request, text) VALUES ('k', ?, ?, 'hi')",
            (leaky, json.dumps({"endpoint": leaky, "model": "m"})),
        )
        conn.execute("INSERT INTO set_scores (set_key, endpoint) VALUES ('s', ?)", (leaky,))
        conn.execute(
            "INSERT INTO commit_sets (commit_sha, set_id, endpoint, set_key) VALUES ('c', 'g', ?, 's')",
            (leaky,),
        )
    Store(db).close()
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "hunter2" not in dump and "sekrit" not in dump
    assert sqlite3.connect(db).execute("SELECT text, endpoint FROM responses").fetchall() == [
        ("hi", "http://gw.example")
    ]


def test_replay_finds_recordings_by_what_was_asked_whatever_the_endpoint(
    model_repo, model_server, cli, monkeypatch, tmp_path
):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0  # recorded through the "gateway" (the test server's URL)
    exported = tmp_path / "responses.jsonl"
    assert cli("responses", "export", str(exported))[0] == 0
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")  # CI without the gateway
    code, out, err = cli("eval", "--provider", "replay")
    assert code == 0, out + err
    assert "skipped" not in out and "2 cases · 0 calls" in out
    # In a fresh clone, from the exported file: the endpoint stays as metadata only.
    (model_repo.root / ".promptvc/promptvc.db").unlink()
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    old_format = [
        {k: v for k, v in row.items() if k != "ask_key"} for row in rows
    ]  # an export from before
    exported.write_text("".join(json.dumps(row) + "\n" for row in old_format))
    assert cli("responses", "import", str(exported))[0] == 0
    code, out, err = cli("eval", "--provider", "replay")
    assert code == 0 and "2 cases · 0 calls" in out, out + err
    assert model_server.calls == 2


def test_replay_without_a_recording_names_the_real_reason(
    model_repo, model_server, cli, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, err = cli("eval", "--provider", "replay")
    assert "no recording for this request" in out
    assert "is not set" not in out  # the missing recording is the reason, not the key


def test_an_old_database_gets_ask_keys_for_its_recordings(tmp_path):
    from promptvc.evaluation.request import ModelRequest
    from promptvc.store import Store

    request = ModelRequest(
        "anthropic",
        "http://gw.example",
        "claude-haiku-4-5",
        "sys",
        (("user", "hi"),),
        (("max_tokens", 512), ("temperature", 0.0)),
    )
    db = tmp_path / "p.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    with conn:  # the schema before m004
        conn.execute("DROP INDEX idx_responses_ask_key")
        conn.execute("ALTER TABLE responses DROP COLUMN ask_key")
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE name = 'm004_responses_by_what_was_asked'"
        )
        conn.execute(
            "INSERT INTO responses (key, request, text) VALUES (?, ?, 'hi')",
            (request.key, request.as_json()),
        )
    store = Store(db)
    assert store.responses_asked([request.ask_key])[request.ask_key]["text"] == "hi"


def test_a_stalled_api_is_given_up_at_the_request_deadline(model_repo, model_server, cli):
    import time

    model_server.delay = 30
    model_repo.write("promptvc.toml", "[eval]\ndeadline = 0.5\nmax_retries = 4\n")
    started = time.perf_counter()
    code, out, err = cli("eval")
    assert code == 3, out + err
    assert time.perf_counter() - started < 10  # 5 x 30 s without it
    assert "deadline" in err


def test_a_dripped_body_does_not_beat_the_deadline(model_repo, model_server, cli):
    import time

    model_server.drip = 0.05  # every byte well within the read timeout; the whole body takes 15 s
    model_repo.write("promptvc.toml", "[eval]\ndeadline = 1\ntimeout = 0.5\n")
    started = time.perf_counter()
    code, out, err = cli("eval")
    assert code == 3, out + err
    assert time.perf_counter() - started < 8
    assert "deadline" in err


def test_fail_fast_once_most_calls_failed_the_same_way(support_repo, model_server, cli):
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{question: 'Q{i}?'}}\n    assert: [{{type: contains, value: x}}]"
        for i in range(10)
    )
    support_repo.write(
        "evals/support-answer.yaml",
        f"prompt: support/answer\nprovider: anthropic\nvars: {{policy: P}}\ncases:\n{cases}\n",
        dedent=False,
    )
    support_repo.write("promptvc.toml", "[eval]\nmax_retries = 2\n")
    model_server.fail_first, model_server.fail_status, model_server.retry_after = (
        10_000,
        500,
        "0.01",
    )
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 3, out + err
    assert model_server.calls <= 23  # without it: 10 cases x 3 attempts
    assert "failed the same way (HTTP 500)" in out


def test_a_request_waiting_to_retry_gives_up_its_slot(model_repo, model_server, cli):
    from tests.model_server import last_user_text

    model_server.rule = answer_by_rule
    model_server.fail_first, model_server.fail_status, model_server.retry_after = 1, 429, "0.5"
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 0, out + err
    asked = [last_user_text(r["body"]) for r in model_server.requests]
    assert (
        len(asked) == 3 and asked[1] != asked[0] and asked[2] == asked[0]
    )  # the other case went in between


def test_check_has_a_deadline_as_a_whole(model_repo, model_server, cli):
    import time

    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    model_server.delay = 30
    model_repo.write("promptvc.toml", '[gate]\ndeadline = 1\noffline = "block"\n')
    model_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    model_repo.stage()
    started = time.perf_counter()
    code, out, err = cli("check")
    assert code == 3, out + err
    assert time.perf_counter() - started < 10  # the request deadline alone is 90 s
    assert "could not evaluate" in out and "deadline" in out


def test_providers_are_registered_by_name_with_what_the_runner_needs_to_know():
    import asyncio

    from promptvc.evaluation.request import ModelRequest
    from promptvc.providers import PROVIDERS, ProviderOptions, Skipped, create_provider

    assert set(PROVIDERS) >= {"anthropic", "echo", "replay"}
    assert (PROVIDERS["echo"].recorded, PROVIDERS["echo"].judges) == (False, False)
    assert (
        PROVIDERS["replay"].recordings_by == "ask"
        and PROVIDERS["anthropic"].recordings_by == "request"
    )
    request = ModelRequest("echo", "local", "m", "sys", (("user", "hi"),), ())
    answer = asyncio.run(create_provider("echo", ProviderOptions()).complete(request))
    assert answer.text == "system:\nsys\nuser:\nhi\n"
    with pytest.raises(Skipped, match="no recording for this request"):
        asyncio.run(create_provider("replay", ProviderOptions()).complete(request))


def test_diff_eval_never_reports_what_the_api_rejected(model_repo, model_server, cli):
    model_server.fail_first, model_server.fail_status, model_server.error_body = (
        1000,
        404,
        NOT_FOUND,
    )
    model_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    code, out, err = cli("diff", "--eval", "HEAD")
    assert code == 2, out + err
    assert "claude-haiku-4-5" in err and "Traceback" not in err
