import json
import sqlite3

import pytest

from tests.conftest import GOLDEN
from tests.model_server import last_user_text

# The shared golden set, judged on a model's answers.
MODEL_GOLDEN = GOLDEN.replace("threshold: 0.9", "provider: anthropic\nthreshold: 0.9")


def answer_by_rule(body):
    question = last_user_text(body)
    if "How long" in question:
        return "You have 30 days from delivery."
    return "No, the window is 30 days."


@pytest.fixture
def model_repo(support_repo):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    return support_repo


def db_rows(repo, query):
    conn = sqlite3.connect(repo.root / ".promptvc/promptvc.db")
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(query)]


def test_eval_calls_the_model_stores_and_reuses(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 2
    body = model_server.requests[0]["body"]
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 512 and body["temperature"] == 0
    assert body["system"].startswith("You are a support agent.")
    assert "support-answer" in out and "1.00" in out
    # Unchanged: nothing is sent again, the results are linked, not copied.
    code, out, _ = cli("eval")
    assert code == 0 and model_server.calls == 2
    assert "0 calls · 2 reused" in out
    runs = db_rows(model_repo, "SELECT * FROM runs ORDER BY id")
    assert [r["complete"] for r in runs] == [1, 1]
    assert len(db_rows(model_repo, "SELECT * FROM results")) == 2
    assert len(db_rows(model_repo, "SELECT * FROM run_results")) == 4
    stored = db_rows(model_repo, "SELECT * FROM results WHERE case_id = 'refund-window'")[0]
    assert stored["model"] == "claude-haiku-4-5-20990101"  # the model id the response reported
    assert stored["tokens_in"] == 100 and stored["cost"] > 0


def test_a_changed_case_sends_only_that_case(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    cli("eval")
    text = (model_repo.root / "evals/support-answer.yaml").read_text().replace("after 2 months", "after 3 months")
    model_repo.write("evals/support-answer.yaml", text)
    code, out, _ = cli("eval")
    assert code == 0
    assert model_server.calls == 3
    assert "after 3 months" in last_user_text(model_server.requests[-1]["body"])


def test_assertion_change_rescoring_needs_no_call(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    cli("eval")
    text = (model_repo.root / "evals/support-answer.yaml").read_text().replace('"30 days"}', '"45 days"}')
    model_repo.write("evals/support-answer.yaml", text)
    code, out, _ = cli("eval")
    assert model_server.calls == 2
    assert code == 1
    assert "support-answer/refund-window  FAIL" in out
    assert '✗ contains "45 days": output does not contain \'45 days\'' in out
    assert "│ You have 30 days from delivery." in out


def test_failing_set_exits_1_and_shows_output_and_reason(model_repo, model_server, cli):
    model_server.rule = lambda body: "I am not sure, sorry."
    code, out, _ = cli("eval")
    assert code == 1
    assert "✗ failed" in out
    assert "│ I am not sure, sorry." in out


def test_retries_429_and_529_then_succeeds(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    model_server.fail_first = 3
    model_server.fail_status = 529
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 0, out + err
    assert model_server.calls == 5


def test_retry_after_is_capped(model_repo, model_server, cli, monkeypatch):
    import time
    model_server.rule = answer_by_rule
    model_server.fail_first = 1
    model_server.fail_status = 429
    model_server.retry_after = "3600"
    model_repo.write("promptvc.toml", "[eval]\nretry_after_cap = 0.2\n")
    started = time.perf_counter()
    code, _, _ = cli("eval", "--concurrency", "1")
    assert code == 0
    assert time.perf_counter() - started < 10


def test_unreachable_api_exits_3_and_keeps_the_run_incomplete(model_repo, model_server, cli):
    model_server.fail_first = 1000
    model_server.fail_status = 500
    model_repo.write("promptvc.toml", "[eval]\nmax_retries = 1\nretry_after_cap = 0.05\n")
    code, out, err = cli("eval")
    assert code == 3
    assert "could not evaluate" in err
    assert model_server.calls == 4  # 2 cases x (1 try + 1 retry)
    errors = db_rows(model_repo, "SELECT status, error FROM results")
    assert {r["status"] for r in errors} == {"error"}
    assert not db_rows(model_repo, "SELECT * FROM responses")  # errors are never cached


def test_no_key_without_recordings_skips_in_replay(model_repo, model_server, cli, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval", "--provider", "replay")
    assert code == 0
    assert model_server.calls == 0
    assert "not evaluated" in out
    assert "support-answer: 2 skipped (refund-window, late-return): no recording for this request" in out


def test_explicit_anthropic_without_a_key_exits_3(model_repo, model_server, cli, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, _, err = cli("eval", "--provider", "anthropic")
    assert code == 3 and "ANTHROPIC_API_KEY is not set" in err


def test_replay_uses_recordings_after_a_live_run(model_repo, model_server, cli, monkeypatch):
    model_server.rule = answer_by_rule
    cli("eval")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval", "--provider", "replay", "--no-cache")
    # --no-cache in replay has nothing to answer from
    assert "skip" in out
    code, out, _ = cli("eval", "--provider", "replay")
    assert code == 0 and "1.00" in out and model_server.calls == 2


def test_echo_set_checks_the_prompt_itself(support_repo, model_server, cli):
    support_repo.write("evals/prompt-checks.yaml", """\
        prompt: support/answer
        provider: echo
        vars: {policy: "P", question: "Q"}
        cases:
          - id: has-policy
            assert:
              - {type: contains, value: "Policy:"}
              - {type: max-length, value: 2000}
              - {type: starts-with, value: "system:"}
        """)
    code, out, _ = cli("eval", "prompt-checks")
    assert code == 0 and model_server.calls == 0
    code, out, _ = cli("render", "support/answer", "--var", "policy=P", "--var", "question=Q", "--plain")
    assert out.startswith("system:")


def test_llm_rubric_uses_the_judge_and_stores_its_reason(model_repo, model_server, cli):
    model_repo.write("evals/grounded.yaml", """\
        prompt: support/answer
        provider: anthropic
        threshold: 0.5
        vars: {policy: "30 days"}
        cases:
          - id: grounded
            vars: {question: "Can I return after 2 months?"}
            assert:
              - {type: llm-rubric, value: "Says no, citing the 30-day policy", min: 4}
        """)

    def rule(body):
        if "Rubric:" in last_user_text(body):
            return "It cites the policy clearly.\nScore: 5"
        return "No, only within 30 days."
    model_server.rule = rule
    code, out, err = cli("eval", "grounded", "--json")
    assert code == 0, err
    case = json.loads(out)["sets"][0]["cases"][0]
    assert case["score"] == 1.0 and case["judge_reason"] == "5/5 It cites the policy clearly."
    judge_request = model_server.requests[1]["body"]
    assert judge_request["model"] == "claude-sonnet-4-6" and judge_request["max_tokens"] == 256


def test_unparseable_judge_reply_is_a_case_error_and_not_cached(model_repo, model_server, cli):
    model_repo.write("evals/grounded.yaml", """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days", question: "q"}
        cases:
          - id: grounded
            assert:
              - {type: llm-rubric, value: "Says no"}
        """)
    model_server.rule = lambda body: "I think it is fine." if "Rubric:" in last_user_text(body) else "No."
    code, out, _ = cli("eval", "grounded")
    assert "no 'Score: N' line" in out
    calls = model_server.calls
    cli("eval", "grounded")
    assert model_server.calls == calls + 1  # the judge is asked again, the answer comes from the cache


def test_python_assertion_from_the_repo(model_repo, model_server, cli):
    model_repo.write("checks/support.py", """\
        def cites_days(output, context):
            return {"pass": "days" in output, "score": 1.0 if "days" in output else 0.0, "reason": "looked for days"}

        def explodes(output, context):
            raise ValueError("boom")
        """)
    model_repo.write("evals/py.yaml", """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days"}
        cases:
          - id: ok
            vars: {question: "q1"}
            assert: [{type: python, value: "checks.support:cites_days"}]
          - id: broken
            vars: {question: "q2"}
            assert: [{type: python, value: "checks.support:explodes"}]
        """)
    model_server.rule = lambda body: "30 days"
    code, out, _ = cli("eval", "py")
    assert "py: 1 error (broken): python \"checks.support:explodes\": ValueError: boom" in out
    assert "1.00" in out


def test_repeat_samples_each_case(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    code, out, _ = cli("eval", "--repeat", "3", "--json")
    data = json.loads(out)["sets"][0]
    assert model_server.calls == 6 and len(data["cases"]) == 6 and data["spread"] == 0.0


def test_k_filters_cases_and_junit(model_repo, model_server, cli, tmp_path):
    model_server.rule = answer_by_rule
    junit = tmp_path / "junit.xml"
    code, out, _ = cli("eval", "-k", "refund", "--junit", str(junit))
    assert model_server.calls == 1
    assert 'name="refund-window"' in junit.read_text()
    # A partial run never becomes the set's stored score.
    assert not db_rows(model_repo, "SELECT * FROM set_scores")


def test_unknown_assertion_type_is_an_input_error(support_repo, cli):
    support_repo.write("evals/bad.yaml", """\
        prompt: support/answer
        cases:
          - id: c1
            assert: [{type: containz, value: x}]
        """)
    code, _, err = cli("eval")
    assert code == 2
    assert err == "promptvc: evals/bad.yaml: case 'c1': unknown assertion type 'containz'\n"


def test_truncated_output_is_flagged(model_repo, model_server, cli):
    model_server.rule = lambda body: "cut"
    model_server.stop_reason = "max_tokens"
    code, out, _ = cli("eval", "--json")
    assert all(c["truncated"] for c in json.loads(out)["sets"][0]["cases"])


def test_no_secret_in_the_database(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    cli("eval")
    dump = "\n".join(sqlite3.connect(model_repo.root / ".promptvc/promptvc.db").iterdump())
    assert "test-key-not-secret" not in dump


def test_eval_staged_and_rev_read_their_own_snapshot(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "STAGED TONE\n")
    support_repo.stage()
    support_repo.write("prompts/partials/tone.jinja", "WORKTREE TONE\n")
    outputs = lambda out: [c["output"] for s in json.loads(out)["sets"] for c in s["cases"]]  # noqa: E731
    _, out, _ = cli("eval", "--staged", "--provider", "echo", "--json")
    assert all("STAGED TONE" in o for o in outputs(out))
    _, out, _ = cli("eval", "--rev", "HEAD", "--provider", "echo", "--json")
    assert all("Be warm and brief." in o for o in outputs(out))
    code, _, err = cli("eval", "--rev", "HEAD", "--staged")
    assert code == 2 and "exclusive" in err
