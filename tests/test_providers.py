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
