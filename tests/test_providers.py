"""Provider faults: malformed bodies, rejected requests, stalls and drips, credentials in the endpoint."""

import json
import sqlite3

import pytest

from tests.test_eval import MODEL_GOLDEN, answer_by_rule


@pytest.fixture
def model_repo(support_repo):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    return support_repo


def db_rows(repo, query):
    conn = sqlite3.connect(repo.root / ".promptvc/promptvc.db")
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(query)]


MESSAGE = {"id": "m", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
           "content": [{"type": "text", "text": "30 days"}], "stop_reason": "end_turn",
           "usage": {"input_tokens": 1, "output_tokens": 1}}

MALFORMED = {
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "truncated": json.dumps(MESSAGE).encode()[:40],
    "not-utf8": json.dumps(MESSAGE).replace("30 days", "30 d\\u00e4ys").encode().replace(b"\\u00e4", b"\xe4"),
    "tokens": json.dumps({**MESSAGE, "usage": {"input_tokens": "lots", "output_tokens": 1}}).encode(),
    "list": b"[1, 2, 3]",
    "content": json.dumps({**MESSAGE, "content": ["x", 5]}).encode(),
    "error-type": json.dumps({"type": "error", "error": {"type": "api_error", "message": "oops"}}).encode(),
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


NOT_FOUND = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-haiku-4-5"}}
TOO_LONG = {"type": "error", "error": {"type": "invalid_request_error",
                                       "message": "prompt is too long: 250000 tokens > 200000 maximum"}}


def test_an_unknown_model_is_a_configuration_error(model_repo, model_server, cli):
    model_server.fail_first, model_server.fail_status, model_server.error_body = 1000, 404, NOT_FOUND
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
    model_server.fail_first, model_server.fail_status, model_server.error_body = 1000, 404, NOT_FOUND
    model_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    model_repo.stage()
    code, out, err = cli("check")
    assert code == 2, out + err
    assert "allowed" not in out and "claude-haiku-4-5" in err
