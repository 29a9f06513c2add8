import json
import re
import sqlite3

from tests.data import MODEL_GOLDEN, answer_by_rule
from tests.helpers import db_rows
from tests.model_server import last_user_text


def test_eval_calls_the_model_stores_and_reuses(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 2
    body = model_server.requests[0]["body"]
    assert (
        body["model"] == "claude-haiku-4-5"
        and body["max_tokens"] == 512
        and body["temperature"] == 0
    )
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
    text = (
        (model_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace("after 2 months", "after 3 months")
    )
    model_repo.write("evals/support-answer.yaml", text)
    code, out, _ = cli("eval")
    assert code == 0
    assert model_server.calls == 3
    assert "after 3 months" in last_user_text(model_server.requests[-1]["body"])


def test_assertion_change_rescoring_needs_no_call(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    cli("eval")
    text = (
        (model_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace('"30 days"}', '"45 days"}')
    )
    model_repo.write("evals/support-answer.yaml", text)
    code, out, _ = cli("eval")
    assert model_server.calls == 2
    assert code == 1
    assert "support-answer/refund-window  FAIL" in out
    assert "✗ contains \"45 days\": output does not contain '45 days'" in out
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
    assert (
        "support-answer: 2 not checked (model unreachable) (refund-window, late-return): HTTP 500"
        in out
    )
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
    assert (
        "support-answer: 2 skipped (refund-window, late-return): no recording for this request"
        in out
    )


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
    support_repo.write(
        "evals/prompt-checks.yaml",
        """\
        prompt: support/answer
        provider: echo
        vars: {policy: "P", question: "Q"}
        cases:
          - id: has-policy
            assert:
              - {type: contains, value: "Policy:"}
              - {type: max-length, value: 2000}
              - {type: starts-with, value: "system:"}
        """,
    )
    code, out, _ = cli("eval", "prompt-checks")
    assert code == 0 and model_server.calls == 0
    code, out, _ = cli(
        "render", "support/answer", "--var", "policy=P", "--var", "question=Q", "--plain"
    )
    assert out.startswith("system:")


def test_llm_rubric_uses_the_judge_and_stores_its_reason(model_repo, model_server, cli):
    model_repo.write(
        "evals/grounded.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        threshold: 0.5
        vars: {policy: "30 days"}
        cases:
          - id: grounded
            vars: {question: "Can I return after 2 months?"}
            assert:
              - {type: llm-rubric, value: "Says no, citing the 30-day policy", min: 4}
        """,
    )

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
    model_repo.write(
        "evals/grounded.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days", question: "q"}
        cases:
          - id: grounded
            assert:
              - {type: llm-rubric, value: "Says no"}
        """,
    )
    model_server.rule = lambda body: (
        "I think it is fine." if "Rubric:" in last_user_text(body) else "No."
    )
    code, out, _ = cli("eval", "grounded")
    assert "no 'Score: N' line" in out
    calls = model_server.calls
    cli("eval", "grounded")
    assert (
        model_server.calls == calls + 1
    )  # the judge is asked again, the answer comes from the cache


def test_python_assertion_from_the_repo(model_repo, model_server, cli):
    model_repo.write(
        "checks/support.py",
        """\
        def cites_days(output, context):
            return {"pass": "days" in output, "score": 1.0 if "days" in output else 0.0, "reason": "looked for days"}

        def explodes(output, context):
            raise ValueError("boom")
        """,
    )
    model_repo.write(
        "evals/py.yaml",
        """\
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
        """,
    )
    model_server.rule = lambda body: "30 days"
    code, out, _ = cli("eval", "py")
    assert 'py: 1 error (broken): python "checks.support:explodes": ValueError: boom' in out
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
    support_repo.write(
        "evals/bad.yaml",
        """\
        prompt: support/answer
        cases:
          - id: c1
            assert: [{type: containz, value: x}]
        """,
    )
    code, _, err = cli("eval")
    assert code == 2
    assert err == (
        "promptvc: evals/bad.yaml:4: case 'c1': unknown assertion type 'containz' "
        "(did you mean 'contains' or 'icontains' or 'not-contains'?)\n"
    )


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


def test_every_case_errored_exits_1_and_says_nothing_was_evaluated(model_repo, model_server, cli):
    model_repo.write(
        "checks/support.py", "def explodes(output, context):\n    raise ValueError('boom')\n"
    )
    text = (model_repo.root / "evals/support-answer.yaml").read_text()
    text = text.replace(
        '{type: contains, value: "30 days"}', '{type: python, value: "checks.support:explodes"}'
    )
    text = text.replace(
        '{type: not-contains, value: "sorry"}', '{type: python, value: "checks.support:explodes"}'
    )
    model_repo.write("evals/support-answer.yaml", text)
    model_server.rule = answer_by_rule
    code, out, _ = cli("eval")
    assert code == 1, out
    assert "nothing was evaluated: 2 cases, 2 errored" in out


def test_replay_without_recordings_exits_0_saying_so_and_3_with_strict(
    model_repo, model_server, cli, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval")
    assert code == 0
    assert "nothing was evaluated: 2 cases, 2 skipped" in out
    code, out, err = cli("eval", "--strict")
    assert code == 3
    assert err == (
        "promptvc: --strict: 1 of 1 golden set not evaluated (support-answer: no recording "
        "for this request (replay answers from recordings only: `promptvc responses import` loads them; with the tier's key (ANTHROPIC_API_KEY by default) the model is asked))\n"
    )


def test_some_sets_not_evaluated_are_said_and_strict_makes_them_exit_3(
    model_repo, model_server, cli, monkeypatch
):
    model_repo.write(
        "evals/prompt.yaml",
        """\
        prompt: support/answer
        provider: echo
        vars: {policy: "P", question: "Q"}
        cases:
          - id: has-policy
            assert: [{type: contains, value: "Policy:"}]
        """,
    )
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval")
    assert code == 0
    assert "1 of 2 golden sets not evaluated (support-answer: no recording" in out
    assert "nothing was evaluated" not in out
    assert cli("eval", "--strict")[0] == 3
    code, out, _ = cli("eval", "--strict", "--json")
    assert code == 3 and json.loads(out)["sets"]


def test_eval_junit_into_a_new_folder_or_a_directory(model_repo, model_server, cli, tmp_path):
    model_server.rule = answer_by_rule
    code, _, err = cli("eval", "--junit", str(tmp_path / "out/junit.xml"))
    assert code == 0, err
    assert (tmp_path / "out/junit.xml").exists()
    code, _, err = cli("eval", "--junit", str(tmp_path / "out"))
    assert code == 2 and err == f"promptvc: {tmp_path / 'out'}: is a directory; give a file name\n"


ECHO_GOLDEN = """\
prompt: support/answer
provider: echo
vars: {policy: P, question: Q}
cases:
  - id: ok
    assert: [{type: contains, value: "support agent"}]
"""
BROKEN_GOLDEN = """\
prompt: support/answer
provider: echo
vars: {policy: P, question: Q}
cases:
  - id: fine
    assert: [{type: contains, value: P}]
  - id: typo
    assert:
      - {type: contain, value: P}
"""


def test_one_broken_golden_file_is_reported_and_the_others_run(support_repo, cli):
    support_repo.write("evals/echo.yaml", ECHO_GOLDEN)
    support_repo.write("evals/broken.yaml", BROKEN_GOLDEN)
    code, out, err = cli("eval", "echo", "broken")
    assert code == 2, out + err
    assert "echo" in out and "✓ passed" in out  # the other set ran and its results were shown
    assert err.strip().splitlines()[-1] == (
        "promptvc: evals/broken.yaml:9: case 'typo': unknown assertion type "
        "'contain' (did you mean 'contains' or 'icontains' or 'not-contains'?)"
    )
    code, out, err = cli("eval", "echo", "broken", "--json")
    assert code == 2
    report = json.loads(out)
    assert [s["id"] for s in report["sets"]] == ["echo"]
    assert report["errors"] == [
        {
            "path": "evals/broken.yaml",
            "line": 9,
            "message": "case 'typo': unknown assertion type 'contain' (did you mean "
            "'contains' or 'icontains' or 'not-contains'?)",
        }
    ]
    assert "evals/broken.yaml:9" in err
    # named alone, the broken set is still found by its name, and reported
    code, out, err = cli("eval", "broken")
    assert code == 2 and "evals/broken.yaml:9" in err and "no golden set" not in err


def test_eval_json_with_nothing_selected_prints_json(support_repo, cli):
    support_repo.write("evals/echo.yaml", ECHO_GOLDEN)
    support_repo.commit("echo set")
    code, out, err = cli("eval", "--changed-since", "HEAD", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["sets"] == [] and report["errors"] == []
    assert report["message"] == "no golden sets to evaluate (nothing changed since HEAD)"


def test_cases_without_assertions_are_warned_about_once_per_set(support_repo, cli):
    support_repo.write(
        "evals/loose.yaml",
        "prompt: support/answer\nprovider: echo\nvars: {policy: P, question: Q}\n"
        "cases:\n  - {id: a}\n  - {id: b}\n  - {id: c, assert: [{type: contains, value: P}]}\n",
    )
    code, out, err = cli("eval", "loose")
    assert code == 0, err
    assert err.count("warning") == 1
    assert (
        "promptvc: warning: evals/loose.yaml: 2 cases have no assertions and will pass whatever the output "
        "(a, b); give them `assert`, or the set a set-level `assert`"
    ) in err
    support_repo.write(
        "evals/loose.yaml",
        "prompt: support/answer\nprovider: echo\nvars: {policy: P, question: Q}\n"
        "assert: [{type: max-length, value: 9999}]\ncases:\n  - {id: a}\n",
    )
    code, out, err = cli("eval", "loose")
    assert code == 0 and "warning" not in err


def test_changed_since_runs_past_a_broken_golden_file(support_repo, cli):
    support_repo.write("evals/echo.yaml", ECHO_GOLDEN)
    support_repo.commit("echo set")
    support_repo.write(
        "evals/broken.yaml",
        BROKEN_GOLDEN.replace("prompt: support/answer", "prompt: 'support/answer"),
    )
    support_repo.write("prompts/partials/tone.jinja", "Be warm.\n")
    code, out, err = cli("eval", "--changed-since", "HEAD", "--json")
    assert code == 2, err
    assert [s["id"] for s in json.loads(out)["sets"]] == [
        "echo",
        "support-answer",
    ]  # both reach the partial
    assert "promptvc: evals/broken.yaml:10: invalid YAML: found unexpected end of stream" in err


def test_replayed_responses_cost_nothing_now_and_the_totals_add_up(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    code, live, _ = cli("eval")
    spent = re.search(r"· (\$[0-9.]+) · [0-9.]+s$", live.strip()).group(1)
    live_row = next(
        line for line in live.splitlines() if line.lstrip().startswith("support-answer")
    )
    assert spent != "$0.00" and f" {spent} " in live_row  # one set: its row is the total
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval", "--provider", "replay")
    assert code == 0 and model_server.calls == 2
    row = next(line for line in out.splitlines() if line.lstrip().startswith("support-answer"))
    assert " $0.00 " in row  # replayed: nothing spent by this run ...
    assert (
        f"· $0.00 (reused/replayed: {spent} if sent) ·" in out
    )  # ... and the footer says what it would cost


def test_ctrl_c_says_how_many_results_were_kept(model_repo, model_server, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    cases = "".join(
        f"  - id: q{i}\n    vars: {{question: 'How long, {i}?'}}\n    assert: [{{type: contains, value: '30 days'}}]\n"
        for i in range(8)
    )
    model_repo.write(
        "evals/support-answer.yaml", MODEL_GOLDEN.split("cases:")[0] + "cases:\n" + cases
    )
    model_repo.commit("eight cases")
    model_server.rule = answer_by_rule
    model_server.delay = 0.4
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptvc", "eval", "--concurrency", "1"],
        cwd=model_repo.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while model_server.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.6)  # the third answer arrives and is kept
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    kept = re.search(
        r"^promptvc: interrupted: (\d+) of 8 results kept; run again to finish$", err, re.M
    )
    assert kept and 1 <= int(kept.group(1)) < 8, err
    assert "Traceback" not in err
    stored = db_rows(
        model_repo, "SELECT count(*) AS n FROM results WHERE status IN ('passed', 'failed')"
    )[0]["n"]
    assert stored == int(kept.group(1))


def test_eval_shows_a_safety_set_apart(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    golden = (model_repo.root / "evals/support-answer.yaml").read_text(encoding="utf-8")
    model_repo.write("evals/support-answer.yaml", "kind: safety\n" + golden)
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert re.search(r"^support-answer \[safety\]\s+1\.00", out, re.M)
    code, out, _ = cli("eval", "--json")
    assert [s["kind"] for s in json.loads(out)["sets"]] == ["safety"]


def test_an_unknown_set_kind_is_one_line(model_repo, cli):
    golden = (model_repo.root / "evals/support-answer.yaml").read_text(encoding="utf-8")
    model_repo.write("evals/support-answer.yaml", "kind: secure\n" + golden)
    code, _, err = cli("eval", "--strict")
    assert code == 2
    assert err.strip().splitlines() == [
        "promptvc: evals/support-answer.yaml:1: unknown kind 'secure' (one of quality, safety)"
    ]
