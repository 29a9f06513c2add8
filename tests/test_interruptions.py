"""Money lost to interruptions: what was paid for is kept, SIGTERM is Ctrl-C, concurrent runs share."""

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.data import answer_by_rule


def rows(repo, query):
    conn = sqlite3.connect(repo.root / ".promptvc/promptvc.db")
    return conn.execute(query).fetchall()


@pytest.fixture
def many_cases(support_repo):
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{question: 'How long {i}?'}}\n    assert: [{{type: contains, value: days}}]"
        for i in range(30)
    )
    support_repo.write(
        "evals/support-answer.yaml",
        f"prompt: support/answer\nprovider: anthropic\nvars: {{policy: P}}\ncases:\n{cases}\n",
        dedent=False,
    )
    support_repo.commit("many cases")
    return support_repo


def start_eval(repo):
    return subprocess.Popen(
        [sys.executable, "-m", "promptvc", "eval", "--concurrency", "2"],
        cwd=repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_calls(server, n):
    deadline = time.time() + 20
    while server.calls < n and time.time() < deadline:
        time.sleep(0.02)


def test_kill_9_keeps_every_response_that_arrived(many_cases, model_server):
    model_server.rule = answer_by_rule
    model_server.delay = 0.1
    proc = start_eval(many_cases)
    wait_for_calls(model_server, 8)
    time.sleep(0.15)  # the answers in flight arrive
    answered = model_server.calls - 2
    proc.kill()
    proc.wait(timeout=10)
    stored = rows(many_cases, "SELECT count(*) FROM responses")[0][0]
    assert stored >= answered - 2  # at most those arriving as it died
    model_server.delay = 0
    before = model_server.calls
    subprocess.run(
        [sys.executable, "-m", "promptvc", "eval"],
        cwd=many_cases.root,
        check=True,
        capture_output=True,
    )
    assert model_server.calls - before <= 30 - stored


def test_sigterm_exits_130_like_ctrl_c(many_cases, model_server):
    model_server.rule = answer_by_rule
    model_server.delay = 0.1
    proc = start_eval(many_cases)
    wait_for_calls(model_server, 6)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err
    assert rows(many_cases, "SELECT complete FROM runs") == [(0,)]
    assert rows(many_cases, "SELECT count(*) FROM results WHERE status = 'passed'")[0][0] >= 3


def test_concurrent_runs_consult_the_store_before_each_request(many_cases, model_server):
    model_server.rule = answer_by_rule
    model_server.delay = 0.05
    procs = [start_eval(many_cases) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert model_server.calls < 60, model_server.calls  # 90 when each run only looked at the start
