import json
import signal
import sqlite3
import subprocess
import sys
import time

from promptvc.evals.scoring import CaseResult, Status
from promptvc.store import Store
from tests.data import GOLDEN, MODEL_GOLDEN, answer_by_rule


def rows(repo, query):
    conn = sqlite3.connect(repo.root / ".promptvc/promptvc.db")
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(query)]


def test_responses_export_import_lets_ci_replay_without_a_key(
    support_repo, model_server, cli, tmp_path, monkeypatch
):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("model golden")
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    recordings = tmp_path / "responses.jsonl"
    assert cli("responses", "export", str(recordings))[0] == 0
    assert "test-key-not-secret" not in recordings.read_text()
    code, out, err = cli("responses", "export", "-")
    assert code == 0 and out == recordings.read_text() and "exported 2 responses" in err
    (support_repo.root / ".promptvc/promptvc.db").unlink()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, _ = cli("eval")
    assert "not evaluated" in out
    code, out, _ = cli("responses", "import", str(recordings))
    assert code == 0 and "imported 2 responses" in out
    code, out, _ = cli("eval")
    assert code == 0 and "1.00" in out and "anthropic (replay)" in out
    assert model_server.calls == 2


def test_import_rejects_garbage_with_the_line(git_repo, cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "promptvc.responses/1"}\n{"key": "k", "text": "t"}\nnot json\n')
    code, _, err = cli("responses", "import", str(bad))
    assert code == 2 and f"{bad}:3: invalid JSON" in err


def test_ctrl_c_keeps_finished_results_and_the_run_incomplete(support_repo, model_server, tmp_path):
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{question: 'How long {i}?'}}\n    assert: [{{type: contains, value: days}}]"
        for i in range(40)
    )
    support_repo.write(
        "evals/support-answer.yaml",
        f"prompt: support/answer\nprovider: anthropic\nvars: {{policy: P}}\ncases:\n{cases}\n",
        dedent=False,
    )
    support_repo.commit("many cases")
    model_server.rule = answer_by_rule
    model_server.delay = 0.15
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptvc", "eval", "--concurrency", "2"],
        cwd=support_repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 20
    while model_server.calls < 8 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.6)  # let a batch flush
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    run = rows(support_repo, "SELECT * FROM runs")[0]
    assert run["complete"] == 0
    kept = rows(support_repo, "SELECT * FROM results WHERE status = 'passed'")
    assert 4 <= len(kept) < 40
    assert not rows(
        support_repo, "SELECT * FROM set_scores"
    )  # an incomplete run is never a baseline
    linked = rows(support_repo, "SELECT count(*) AS n FROM run_results")[0]["n"]
    assert linked == len(rows(support_repo, "SELECT * FROM results"))
    # The next run re-sends only what did not finish.
    calls = model_server.calls
    model_server.delay = 0
    subprocess.run(
        [sys.executable, "-m", "promptvc", "eval"],
        cwd=support_repo.root,
        check=True,
        capture_output=True,
    )
    assert model_server.calls - calls <= 40 - len(kept)


def test_two_processes_write_at_once(tmp_path):
    db = tmp_path / "p.db"
    Store(db).close()
    script = f"""
import sys
from pathlib import Path
from promptvc.store import Store
store = Store(Path({str(db)!r}))
run = store.start_run("worktree", None, "echo", "test")
for batch in range(20):
    rows = [{{"key": f"k{{i}}", "status": "passed", "score": 1.0, "set_id": "s", "case_id": str(i)}}
            for i in range(batch * 10, batch * 10 + 10)]
    store.save_results(run, rows)
store.finish_run(run, {{"cases": 200}}, [])
"""
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 200
    assert conn.execute("SELECT count(*) FROM run_results").fetchone()[0] == 600
    assert conn.execute("SELECT count(*) FROM runs WHERE complete = 1").fetchone()[0] == 3
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_schema_is_versioned_by_migrations(tmp_path):
    store = Store(tmp_path / "p.db")
    applied = [r["name"] for r in store.db.query("SELECT name FROM _sqlite_migrations")]
    assert (
        applied[:2] == ["m001_initial", "m002_case_status_index"]
        and "m003_endpoints_without_credentials" in applied
    )
    Store(tmp_path / "p.db")  # a second open applies nothing again
    assert len(list(store.db.query("SELECT * FROM _sqlite_migrations"))) == len(applied)


def test_statuses_are_stored_as_the_plain_words(tmp_path):
    store = Store(tmp_path / "p.db")
    run_id = store.start_run("worktree", None, "echo", "eval")
    results = [
        CaseResult(f"k{i}", "s", f"c{i}", 0, "p", "echo", status) for i, status in enumerate(Status)
    ]
    store.save_results(run_id, [r.row() for r in results])
    stored = store.db.execute("SELECT status, typeof(status) FROM results ORDER BY key").fetchall()
    assert stored == [
        ("passed", "text"),
        ("failed", "text"),
        ("error", "text"),
        ("skipped", "text"),
        ("not evaluated", "text"),
    ]
    rows = store.results(r.key for r in results)
    read = [CaseResult.from_row(rows[r.key]).status for r in results]
    assert read == list(Status) and all(type(s) is Status for s in read)


def test_log_shows_scores_deltas_and_providers(support_repo, model_server, cli):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("model golden")
    model_server.rule = lambda body: (
        "I am not sure, sorry." if "Be vague." in body.get("system", "") else answer_by_rule(body)
    )
    cli("eval", "--rev", "HEAD")
    support_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    support_repo.commit("vaguer tone")
    cli("eval", "--rev", "HEAD")
    support_repo.write("README.txt", "unrelated\n")
    support_repo.commit("docs")
    support_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    support_repo.commit("kind tone, not evaluated")
    code, out, _ = cli("log")
    assert code == 0
    lines = out.splitlines()
    assert "kind tone, not evaluated" in lines[0] and "not evaluated" in lines[1]
    assert "vaguer tone" in lines[2] and "0.00  (−1.00)  0/2 passed · anthropic" in lines[3]
    assert "model golden" in lines[4] and "1.00" in lines[5]
    assert "docs" not in out
    code, out, _ = cli("log", "-n", "2", "--json")
    data = json.loads(out)
    assert len(data) == 2 and data[1]["sets"][0]["delta"] == -1.0


def test_diff_eval_shows_deltas_and_flips(support_repo, model_server, cli):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("model golden")
    model_server.rule = lambda body: (
        "I am not sure, sorry." if "Be vague." in body.get("system", "") else answer_by_rule(body)
    )
    support_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    code, out, err = cli("diff", "--eval", "HEAD")
    assert code == 0, err
    # --eval adds the scores to the diff, it does not replace it: the diff first, then the scores.
    assert (
        out.index("+Be vague.")
        < out.index("scores · HEAD")
        < out.index("support-answer  1.00 → 0.00")
    )
    assert "prompts/partials/tone.jinja → reaches 1 prompt: support/answer" in out
    assert "support-answer  1.00 → 0.00  −1.00 (95% CI −1.00..−1.00)  2 flips ↓  p=0.25" in out
    assert "refund-window  pass → fail" in out
    assert "after:  I am not sure, sorry." in out
    calls = model_server.calls
    cli("diff", "--eval", "HEAD")
    assert model_server.calls == calls  # everything came from the store
    code, out, _ = cli("diff", "--eval", "--json", "HEAD")
    data = json.loads(out)
    assert (
        data["diff"]["schema"] == "promptvc.diff/1"
        and data["diff"]["prompts"][0]["name"] == "support/answer"
    )
    assert data["sets"][0]["delta"] == -1.0


def test_responses_export_into_a_new_folder_or_a_directory(support_repo, cli, tmp_path):
    target = tmp_path / "recordings/ci/responses.jsonl"
    code, _, err = cli("responses", "export", str(target))
    assert code == 0, err
    assert target.read_text().startswith('{"format": "promptvc.responses/1"}')
    code, _, err = cli("responses", "export", str(tmp_path))
    assert code == 2 and err == f"promptvc: {tmp_path}: is a directory; give a file name\n"


def test_log_never_compares_a_score_with_one_from_another_provider(support_repo, model_server, cli):
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace("threshold: 0.9", "provider: echo\nthreshold: 0.9"),
    )
    support_repo.commit("checked with echo")
    assert cli("eval", "--rev", "HEAD")[0] == 0
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judged by the model")
    model_server.rule = lambda body: "I am not sure, sorry."
    assert cli("eval", "--rev", "HEAD")[0] == 1
    _, out, _ = cli("log", "-n", "2")
    lines = out.splitlines()
    assert "judged by the model" in lines[0]
    assert "support-answer  0.00    0/2 passed · anthropic (parent: echo, not compared)" in lines[1]
    assert "(−1.00)" not in out
    data = json.loads(cli("log", "-n", "1", "--json")[1])
    assert (
        data[0]["sets"][0]["delta"] is None and data[0]["sets"][0]["endpoint"] == model_server.url
    )


def test_every_migration_function_is_registered_in_order():
    """A migration written but not registered (a lost decorator in a merge) would never run."""
    import inspect
    import re

    from promptvc import storeschema

    written = sorted(
        name
        for name, _ in inspect.getmembers(storeschema, inspect.isfunction)
        if re.fullmatch(r"m\d{3}_\w+", name)
    )
    registered = [m.name for m in storeschema.migrations._migrations]
    assert registered == written
    assert [int(name[1:4]) for name in written] == list(range(1, len(written) + 1))


def test_opening_the_store_does_not_import_numpy_yet_numpy_stays_importable(tmp_path):
    """sqlite-utils would import numpy (~50-80 ms) on every command; promptvc.sqlitedb skips it."""
    import os

    this_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from promptvc.store import Store\n"
        f"Store(Path({str(tmp_path / 'p.db')!r})).close()\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
        "import numpy\n"
        "assert numpy.arange(3).sum() == 3\n"
    )
    env = {**os.environ, "PYTHONPATH": this_checkout}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
