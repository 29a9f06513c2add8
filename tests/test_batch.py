"""`eval --batch`: the Message Batches API through the real SDK against the local server."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptvc.evaluation import batching
from tests.data import JUDGED_GOLDEN, answer_by_rule
from tests.helpers import db_rows


@pytest.fixture
def quick_polling(monkeypatch):
    """Polling in milliseconds, with every wait recorded."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    polling = batching.Polling(first=0.01, cap=0.04, sleep=sleep)
    monkeypatch.setattr(batching, "default_polling", lambda: polling)
    return waits


def ctrl_c_while_polling(monkeypatch) -> None:
    """The next run is interrupted at its first wait for the batch (after submitting it)."""

    async def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(batching, "default_polling", lambda: batching.Polling(sleep=interrupt))


def poll_every(monkeypatch, first: float, cap: float) -> None:
    monkeypatch.setattr(batching, "default_polling", lambda: batching.Polling(first=first, cap=cap))


def _message_posts(server) -> list[dict]:
    return [r for r in server.requests if r["path"] == "/v1/messages"]


def _without_run(rows: list[dict]) -> list[dict]:
    ignored = ("latency_ms", "created_at", "cost", "fresh")
    return [{k: v for k, v in row.items() if k not in ignored} for row in rows]


def test_a_batch_run_is_one_create_polled_and_stored_as_a_normal_run(
    model_repo, model_server, cli, quick_polling
):
    model_server.rule = answer_by_rule
    model_server.batch_delay = 0.05
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    assert model_server.batch_creates == 1 and _message_posts(model_server) == []
    [create] = [r for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert len(create["body"]["requests"]) == 2
    # Polled with backoff until it ended, with progress on stderr.
    assert quick_polling and quick_polling == sorted(quick_polling)
    assert max(quick_polling) <= 0.04
    assert "batch msgbatch_0001 submitted: 2 requests" in err
    assert "of 2 requests processed" in err
    report = json.loads(out)
    assert report["sets"][0]["passed"] == 2
    [batch] = db_rows(model_repo, "SELECT * FROM batches")
    assert batch["id"] == "msgbatch_0001" and batch["state"] == "collected"
    assert batch["run_id"] == report["run_id"] and batch["requests"] == 2
    responses = db_rows(model_repo, "SELECT * FROM responses ORDER BY key")
    assert {r["source"] for r in responses} == {"batch"}
    assert sorted(r["key"] for r in responses) == sorted(
        r["custom_id"] for r in create["body"]["requests"]
    )


def test_results_and_responses_equal_a_normal_run_at_half_the_cost(
    model_repo, model_server, cli, quick_polling, tmp_path
):
    model_server.rule = answer_by_rule
    assert cli("eval", "--json")[0] == 0
    normal_results = db_rows(model_repo, "SELECT * FROM results ORDER BY key")
    normal_responses = db_rows(model_repo, "SELECT * FROM responses ORDER BY key")
    normal_cost = sum(r["cost"] for r in normal_responses)
    code, out, err = cli("eval", "--batch", "--no-cache", "--json")
    assert code == 0, err
    assert model_server.batch_creates == 1
    results = db_rows(model_repo, "SELECT * FROM results ORDER BY key")
    responses = db_rows(model_repo, "SELECT * FROM responses ORDER BY key")
    assert _without_run(results) == _without_run(normal_results)
    keep = ("key", "request", "text", "reported_model", "stop_reason", "tokens_in", "tokens_out")
    assert [{k: r[k] for k in keep} for r in responses] == [
        {k: r[k] for k in keep} for r in normal_responses
    ]
    assert sum(r["cost"] for r in responses) == pytest.approx(normal_cost * 0.5)
    assert json.loads(out)["cost"] == pytest.approx(normal_cost * 0.5)


def test_interrupted_while_polling_then_run_again_picks_up_the_batch(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    model_server.batch_delay = 0.3

    ctrl_c_while_polling(monkeypatch)
    code, _, err = cli("eval", "--batch")
    assert code == 130, err
    assert "run again to finish (a submitted batch keeps processing and is picked up)" in err
    assert model_server.batch_creates == 1
    [batch] = db_rows(model_repo, "SELECT * FROM batches")
    assert batch["state"] == "open"
    [run] = db_rows(model_repo, "SELECT * FROM runs")
    assert run["complete"] == 0

    poll_every(monkeypatch, 0.05, 0.1)
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, err
    assert model_server.batch_creates == 1  # the resume created none
    assert "batch msgbatch_0001 picked up: 2 requests" in err
    assert json.loads(out)["sets"][0]["passed"] == 2
    assert db_rows(model_repo, "SELECT state FROM batches") == [{"state": "collected"}]
    assert _message_posts(model_server) == []


@pytest.mark.parametrize("kind", ["expired", "errored", "canceled"])
def test_requests_that_failed_in_the_batch_are_sent_again_alone(
    model_repo, model_server, cli, quick_polling, kind
):
    model_server.rule = answer_by_rule
    model_server.batch_fail = 1
    model_server.batch_fail_kind = kind
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    creates = [r["body"] for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert [len(c["requests"]) for c in creates] == [2, 1]
    assert creates[1]["requests"][0] == creates[0]["requests"][0]
    assert json.loads(out)["sets"][0]["passed"] == 2
    states = db_rows(model_repo, "SELECT requests, state FROM batches ORDER BY created_at, id")
    assert states == [{"requests": 2, "state": "collected"}, {"requests": 1, "state": "collected"}]


def test_an_invalid_request_in_a_batch_is_not_sent_again(
    model_repo, model_server, cli, quick_polling
):
    model_server.rule = answer_by_rule
    model_server.batch_fail = 1
    model_server.batch_error_type = "invalid_request_error"
    code, _, err = cli("eval", "--batch")
    assert code == 2, err
    assert model_server.batch_creates == 1
    assert "invalid_request_error" in err and "Traceback" not in err


def test_a_batch_the_api_no_longer_knows_exits_2_and_new_batch_forgets_it(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    model_server.batch_delay = 30

    ctrl_c_while_polling(monkeypatch)
    assert cli("eval", "--batch")[0] == 130
    model_server.batches.clear()  # the API forgot it
    code, out, err = cli("eval", "--batch")
    assert code == 2
    *progress, line = err.strip().splitlines()
    assert progress == ["promptvc: batch msgbatch_0001 picked up: 2 requests"]
    assert line.startswith("promptvc: the API does not know batch msgbatch_0001 (HTTP 404")
    assert "--new-batch" in line and "Traceback" not in err

    model_server.batch_delay = 0
    poll_every(monkeypatch, 0.01, 0.01)
    code, out, err = cli("eval", "--batch", "--new-batch", "--json")
    assert code == 0, err
    assert model_server.batch_creates == 2
    states = db_rows(model_repo, "SELECT id, state FROM batches ORDER BY id")
    assert states == [
        {"id": "msgbatch_0001", "state": "dropped"},
        {"id": "msgbatch_0002", "state": "collected"},
    ]


def test_new_batch_cancels_the_open_batch_before_submitting(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    model_server.batch_delay = 30

    ctrl_c_while_polling(monkeypatch)
    assert cli("eval", "--batch")[0] == 130
    poll_every(monkeypatch, 0.01, 0.01)
    model_server.batch_delay = 0
    code, _, err = cli("eval", "--batch", "--new-batch")
    assert code == 0, err
    cancels = [r["path"] for r in model_server.requests if r["path"].endswith("/cancel")]
    assert cancels == ["/v1/messages/batches/msgbatch_0001/cancel"]
    assert model_server.batches["msgbatch_0001"]["canceled"]


def test_judge_calls_are_sent_one_by_one_after_the_batch(
    model_repo, model_server, cli, quick_polling
):
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    model_server.rule = lambda body: (
        "Cites it.\nScore: 5" if "Score: N" in json.dumps(body) else "30 days."
    )
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    [create] = [r for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert len(create["body"]["requests"]) == 2
    assert len(_message_posts(model_server)) == 2  # the two judge calls
    assert json.loads(out)["sets"][0]["passed"] == 2


def test_new_batch_needs_batch(model_repo, cli):
    code, _, err = cli("eval", "--new-batch")
    assert code == 2 and "--new-batch goes with --batch" in err


def test_a_provider_without_a_batch_api_is_sent_one_by_one_with_a_warning(
    model_repo, model_server, cli, quick_polling
):
    model_repo.write(
        "prompts/tiers.yaml",
        "fast: {model: gpt-4.1-mini, max_tokens: 512, provider: openai, "
        f"base_url: '{model_server.url}/v1', api_key_env: null}}\n"
        "judge: {model: claude-sonnet-4-6, max_tokens: 256}\n",
    )
    model_server.rule = answer_by_rule
    code, out, err = cli("eval", "--batch")
    assert code == 0, out + err
    assert "the openai provider has no batch API; its requests are sent one by one" in err
    assert model_server.batch_creates == 0
    assert len([r for r in model_server.requests if r["path"].endswith("/chat/completions")]) == 2


def test_split_keeps_each_batch_within_the_limits(monkeypatch):
    from promptvc.evaluation.request import ModelRequest

    requests = [
        ModelRequest("anthropic", "e", "m", "s", (("user", f"q{i}"),), ()) for i in range(10)
    ]
    monkeypatch.setattr(batching, "MAX_REQUESTS", 4)
    assert [len(b) for b in batching.split(requests)] == [4, 4, 2]
    monkeypatch.setattr(batching, "MAX_REQUESTS", 100)
    one = len(json.dumps({"custom_id": requests[0].key, "params": requests[0].payload()})) + 1
    monkeypatch.setattr(batching, "MAX_BYTES", one * 3)
    assert [len(b) for b in batching.split(requests)] == [3, 3, 3, 1]
    assert [r for b in batching.split(requests) for r in b] == requests


def test_polling_backs_off_exponentially_up_to_its_cap():
    waits = batching.Polling(first=1, cap=60).waits()
    assert [next(waits) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_check_base_in_ci_sends_each_side_in_one_batch(
    model_repo, model_server, cli, quick_polling
):
    model_server.rule = answer_by_rule
    model_repo.git("checkout", "-q", "-b", "feature")
    model_repo.write("prompts/partials/tone.jinja", "Be kind and brief.\n")
    model_repo.git("commit", "-q", "--no-verify", "-am", "kinder")
    code, out, err = cli("check", "--base", "main", "--batch")
    assert code == 0, out + err
    creates = [r["body"] for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert [len(c["requests"]) for c in creates] == [2, 2]  # the merge-base, then HEAD
    assert _message_posts(model_server) == []
    runs = db_rows(model_repo, "SELECT id, complete, command FROM runs ORDER BY id")
    batches = db_rows(model_repo, "SELECT run_id, state FROM batches ORDER BY id")
    assert [b["run_id"] for b in batches] == [r["id"] for r in runs]
    assert {b["state"] for b in batches} == {"collected"} and all(r["complete"] for r in runs)


def test_a_batch_that_fails_half_way_keeps_what_it_read_and_leaves_the_run_incomplete(
    model_repo, model_server, cli, quick_polling, monkeypatch
):
    from promptvc.providers import ProviderError
    from promptvc.providers.anthropic_api import MessagesClient

    model_server.rule = answer_by_rule
    read = MessagesClient.batch_results

    async def cut_off(self, batch_id):
        async for item in read(self, batch_id):
            yield item
            raise ProviderError("reading the results failed: the connection dropped", True)

    monkeypatch.setattr(MessagesClient, "batch_results", cut_off)
    code, _, err = cli("eval", "--batch")
    assert code == 3, err
    assert "the batch API failed: reading the results failed" in err
    assert "running again picks up the submitted batch" in err
    [run] = db_rows(model_repo, "SELECT complete FROM runs")
    assert run["complete"] == 0
    assert len(db_rows(model_repo, "SELECT * FROM responses")) == 1  # the answer read is kept
    assert db_rows(model_repo, "SELECT state FROM batches") == [{"state": "open"}]

    monkeypatch.setattr(MessagesClient, "batch_results", read)
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, err
    assert model_server.batch_creates == 1  # no second charge: the same batch is read again
    assert "picked up: 1 request" in err
    assert json.loads(out)["sets"][0]["passed"] == 2
    assert len(db_rows(model_repo, "SELECT * FROM responses")) == 2


def test_two_thousand_requests_are_one_create_and_a_few_polls(
    model_repo, model_server, cli, quick_polling
):
    lines = [
        json.dumps({"id": f"q{i}", "vars": {"question": f"Question {i}?"}, "assert": []})
        for i in range(2000)
    ]
    model_repo.write("evals/cases/many.jsonl", "\n".join(lines) + "\n")
    model_repo.write(
        "evals/support-answer.yaml",
        "prompt: support/answer\nprovider: anthropic\nvars: {policy: P}\n"
        "assert: [{type: contains, value: ok}]\ncases: cases/many.jsonl\n",
    )
    model_server.batch_delay = 0.05
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, err
    assert model_server.batch_creates == 1
    [create] = [r for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert len(create["body"]["requests"]) == 2000
    polls = [r for r in model_server.requests if r["path"] == "/v1/messages/batches/msgbatch_0001"]
    # Backoff, not a call per request: a look after each wait, the first and the results' own.
    assert len(polls) == len(quick_polling) + 2
    assert quick_polling == [min(0.01 * 2**i, 0.04) for i in range(len(quick_polling))]
    assert _message_posts(model_server) == []
    assert json.loads(out)["sets"][0]["passed"] == 2000
    assert len(db_rows(model_repo, "SELECT key FROM responses")) == 2000


def test_a_batch_result_line_is_an_answer_or_says_whether_to_send_it_again():
    from promptvc.providers import MalformedResponse, Response
    from promptvc.providers.anthropic_api import batch_line
    from promptvc.providers.batchapi import BatchFailure

    def line(result: dict) -> str:
        return json.dumps({"custom_id": "k1", "result": result})

    def succeeded(content) -> str:
        message = {"type": "message", "model": "claude-x", "content": content}
        usage = {"input_tokens": 3, "output_tokens": 2}
        return line({"type": "succeeded", "message": {**message, "usage": usage}})

    def errored(kind: str) -> str:
        error = {"type": "error", "error": {"type": kind, "message": "m"}}
        return line({"type": "errored", "error": error})

    answer = batch_line(succeeded([{"type": "text", "text": "hi"}]))
    assert answer == ("k1", Response("hi", "claude-x", None, 3, 2, 0.0))
    assert batch_line(line({"type": "expired"}))[1] == BatchFailure(
        "expired", "the batch request expired", again=True
    )
    overloaded = batch_line(errored("overloaded_error"))[1]
    assert isinstance(overloaded, BatchFailure) and overloaded.again
    invalid = batch_line(errored("invalid_request_error"))[1]
    assert isinstance(invalid, BatchFailure) and not invalid.again
    assert "invalid_request_error: m" in invalid.message
    malformed = batch_line(succeeded("not a list"))[1]
    assert isinstance(malformed, BatchFailure) and malformed.kind == "malformed"
    assert not malformed.again
    with pytest.raises(MalformedResponse):
        batch_line('{"result": {}}')


def test_dry_run_and_max_cost_price_the_model_calls_at_the_batch_discount(
    model_repo, model_server, cli
):
    model_server.rule = answer_by_rule
    full = json.loads(cli("eval", "--dry-run", "--json")[1])
    half = json.loads(cli("eval", "--dry-run", "--batch", "--json")[1])
    assert half["total"]["requests"] == full["total"]["requests"] == 2
    assert half["total"]["cost"] == pytest.approx(full["total"]["cost"] * 0.5, abs=1e-6)
    code, out, _ = cli("eval", "--dry-run", "--batch")
    assert code == 0 and "--batch (model calls at half price)" in out
    between = str(full["total"]["cost"] * 0.75)
    assert cli("eval", "--max-cost", between)[0] == 3
    assert model_server.batch_creates == 0
    code, _, err = cli("eval", "--max-cost", between, "--batch")
    assert code == 0, err
    assert model_server.batch_creates == 1


def test_a_batched_answer_pays_its_cache_writes_and_reads_at_the_batch_discount(
    model_repo, model_server, cli, quick_polling
):
    from tests.test_prompt_caching import cached_answer

    cached_answer(model_repo)
    model_server.rule = lambda body: "Within 30 days."
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    rows = db_rows(model_repo, "SELECT * FROM responses ORDER BY cache_read_tokens")
    assert {r["source"] for r in rows} == {"batch"}
    written = rows[0]["cache_write_tokens"] + rows[1]["cache_write_tokens"]
    read = rows[0]["cache_read_tokens"] + rows[1]["cache_read_tokens"]
    assert written and read  # the second request read what the first wrote
    tokens_in = sum(r["tokens_in"] for r in rows)
    # haiku-4-5 in the model repository: $1 in, $5 out per million; writes ×1.25, reads ×0.1
    full = (tokens_in + written * 1.25 + read * 0.1) / 1e6 + 2 * 3 * 5 / 1e6
    assert sum(r["cost"] for r in rows) == pytest.approx(full * 0.5)
    assert json.loads(out)["cost"] == pytest.approx(full * 0.5, rel=1e-3)  # rounded


def test_a_resume_that_wants_part_of_a_batch_leaves_the_rest_to_be_picked_up(
    model_repo, model_server, cli, monkeypatch
):
    """The batch carried both cases; a run for one of them must not close it, or the other's
    answer (paid for) is never read and the next run pays for it again."""
    model_server.rule = answer_by_rule
    model_server.batch_delay = 0.3

    ctrl_c_while_polling(monkeypatch)
    assert cli("eval", "--batch")[0] == 130
    poll_every(monkeypatch, 0.05, 0.1)
    code, out, err = cli("eval", "--batch", "-k", "refund-window")
    assert code == 0, out + err
    assert "picked up: 1 request" in err
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    assert model_server.batch_creates == 1  # the other case's answer came from the first batch
    assert "picked up: 1 request" in err
    assert json.loads(out)["sets"][0]["passed"] == 2
    assert db_rows(model_repo, "SELECT state FROM batches") == [{"state": "collected"}]
