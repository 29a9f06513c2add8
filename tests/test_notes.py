"""Scores in git notes and recorded responses through git, between two clones of one bare repository."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import GitRepo
from tests.data import answer_by_rule
from tests.helpers import db_rows

ECHO_SET = """\
prompt: support/answer
provider: echo
vars: {policy: "P", question: "Q"}
cases:
  - id: has-policy
    assert:
      - {type: contains, value: "Policy:"}
"""


@pytest.fixture
def shared(model_repo, tmp_path):
    """The model repository pushed to a bare one (origin), and a second clone of it."""
    model_repo.write("evals/prompt-checks.yaml", ECHO_SET)
    model_repo.commit("check the prompt itself")
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    model_repo.git("remote", "add", "origin", str(bare))
    model_repo.git("push", "-q", "origin", "main")
    subprocess.run(["git", "clone", "-q", str(bare), str(tmp_path / "clone")], check=True)
    return model_repo, GitRepo(tmp_path / "clone"), bare


def note_on(repo: GitRepo, rev: str = "HEAD") -> dict:
    return json.loads(repo.git("notes", "--ref=promptvc", "show", rev))


def test_scores_and_responses_travel_to_a_clone_that_then_sends_nothing(
    shared, model_server, cli, monkeypatch
):
    first, second, bare = shared
    model_server.rule = answer_by_rule
    code, out, err = cli("eval", "--notes")
    assert code == 0, out + err
    assert model_server.calls == 2
    assert "noted" in err and "2 scored sets" in err
    note = note_on(first)
    assert note["promptvc_notes"] == 1
    entry = next(s for s in note["sets"].values() if s["set_id"] == "support-answer")
    assert entry["score"] == 1.0 and entry["passed"] == 2 and entry["cases"] == 2
    assert entry["promptvc_version"] and entry["run_at"]
    assert {c["status"] for c in entry["case_results"].values()} == {"passed"}
    assert "output" not in json.dumps(entry["case_results"])
    assert cli("notes", "push") == (0, "pushed promptvc notes to origin\n", "")
    code, out, _ = cli("responses", "push")
    assert code == 0 and "pushed 2 responses" in out
    code, out, _ = cli("responses", "push")
    assert code == 0 and "nothing new to push" in out
    blobs = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=bare, capture_output=True
    ).stdout
    assert b"test-key-not-secret" not in blobs  # the API key never travels

    monkeypatch.chdir(second.root)
    code, out, _ = cli("notes", "fetch")
    assert code == 0 and "fetched promptvc notes from origin" in out
    code, out, _ = cli("responses", "fetch")
    assert code == 0 and "fetched 2 responses from origin (0 already here)" in out
    code, out, err = cli("log")
    assert code == 0, err
    assert "support-answer" in out and "1.00" in out and "· ci" in out
    code, out, _ = cli("log", "--json")
    sets = {s["id"]: s for s in json.loads(out)[0]["sets"]}
    assert sets["support-answer"]["source"] == "ci" and sets["support-answer"]["score"] == 1.0

    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 2  # every answer came through git
    assert "2 reused" in out or "0 calls" in out
    assert {r["source"] for r in db_rows(second, "SELECT source FROM responses")} == {"git"}
    code, out, _ = cli("log")
    assert "· ci" not in out.splitlines()[1]  # measured here now: the local score wins


def test_two_ci_jobs_noting_one_commit_merge_by_set(shared, model_server, cli, monkeypatch):
    first, second, _bare = shared
    model_server.rule = answer_by_rule
    assert cli("eval", "support-answer", "--rev", "HEAD", "--notes")[0] == 0
    assert cli("eval", "support-answer", "--rev", "HEAD~1", "--notes")[0] == 0
    assert cli("notes", "push")[0] == 0

    monkeypatch.chdir(second.root)
    assert cli("eval", "prompt-checks", "--rev", "HEAD", "--notes")[0] == 0
    code, out, err = cli("notes", "push")  # rejected at first: it fetches, merges, pushes
    assert code == 0, out + err
    both = {s["set_id"] for s in note_on(second)["sets"].values()}
    assert both == {"support-answer", "prompt-checks"}
    assert note_on(second, "HEAD~1")["sets"]  # the other job's note on another commit is kept
    parents = second.git("log", "-1", "--format=%P", "refs/notes/promptvc").split()
    assert len(parents) == 2  # a notes merge any git can follow

    monkeypatch.chdir(first.root)
    code, out, _ = cli("notes", "fetch")
    assert code == 0 and "fetched promptvc notes" in out
    assert {s["set_id"] for s in note_on(first)["sets"].values()} == both


def test_a_malformed_note_is_skipped_with_a_warning_naming_its_commit(model_repo, cli):
    head = model_repo.head()
    model_repo.git("notes", "--ref=promptvc", "add", "-m", "{not json", head)
    code, out, err = cli("log")
    assert code == 0
    assert f"skipped the promptvc note on commit {head[:7]}: not JSON" in err
    assert "support-answer" in out
    model_repo.git("notes", "--ref=promptvc", "add", "-f", "-m", '{"promptvc_notes": 9}', head)
    code, out, err = cli("log")
    assert code == 0 and "note format 9" in err


def test_a_remote_without_the_refs_says_so(shared, cli, monkeypatch):
    _first, second, _bare = shared
    monkeypatch.chdir(second.root)
    code, out, _ = cli("notes", "fetch")
    assert code == 0 and "origin has no promptvc notes yet" in out
    code, out, _ = cli("responses", "fetch")
    assert code == 0 and "origin has no recorded responses yet" in out
    code, out, _ = cli("notes", "push")
    assert code == 0 and "no promptvc notes to push" in out
    code, _out, err = cli("notes", "fetch", "upstream")
    assert code == 2 and "no such remote: upstream (this repository has: origin)" in err
    assert err.count("\n") == 1


def test_notes_write_needs_a_commit(model_repo, cli):
    code, _out, err = cli("notes", "write", "nope")
    assert code == 2 and "unknown revision: nope" in err
    code, out, _ = cli("notes", "write")
    assert code == 0 and "no scored set yet" in out
    model_repo.write("evals/support-answer.yaml", "changed: true\n")
    code, _out, err = cli("eval", "--notes")
    assert code == 2 and "--notes notes a commit" in err
    code, _out, err = cli("check", "--notes")
    assert code == 2 and "--notes needs --base" in err


def test_union_keeps_both_sides_and_the_newer_measurement():
    from promptvc.notes import combine, dumps, empty, parse

    def doc(key: str, score: float, run_at: str) -> dict:
        d = empty()
        d["sets"][key] = {
            "set_id": key,
            "set_key": key,
            "score": score,
            "status": "passed",
            "run_at": run_at,
        }
        return d

    ours, theirs = doc("a", 0.5, "2026-01-02"), doc("b", 1.0, "2026-01-01")
    theirs["sets"]["a"] = doc("a", 0.9, "2026-01-03")["sets"]["a"]
    merged = parse(combine(dumps(ours), dumps(theirs)))
    assert merged["sets"]["a"]["score"] == 0.9 and merged["sets"]["b"]["score"] == 1.0
    assert parse(combine(b"garbage", dumps(ours))) == ours
    assert combine(dumps(ours), dumps(theirs)) == combine(dumps(ours), dumps(theirs))


def test_the_tui_shows_noted_scores_and_flips_without_a_local_store(model_repo, model_server, cli):
    import asyncio
    import shutil

    from textual.widgets import DataTable, Static

    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser
    from promptvc.workspace import Workspace

    model_server.rule = lambda body: (
        "I am not sure, sorry." if "Be vague." in body.get("system", "") else answer_by_rule(body)
    )
    assert cli("eval", "--rev", "HEAD", "--notes")[0] == 0
    model_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    model_repo.commit("vaguer tone")
    assert cli("eval", "--notes")[0] == 1
    calls = model_server.calls
    shutil.rmtree(model_repo.root / ".promptvc")  # as a fresh clone: nothing measured here

    async def scenario():
        app = PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)
        async with app.run_test(size=(140, 36)) as pilot:
            commits = app.query_one("#commits", DataTable)
            assert str(commits.get_row_at(0)[2]) == "0.00"
            assert str(commits.get_row_at(0)[3]) == "▼−1.00"
            sets = app.query_one("#sets", DataTable)
            assert str(sets.get_row_at(0)[6]) == "anthropic · ci"
            flips = str(app.query_one("#flips", Static).render())
            assert "support-answer/refund-window pass → fail" in flips
            await pilot.press("enter", "enter")  # commit -> sets -> cases
            cases = app.screen.query_one("#cases", DataTable)
            assert str(cases.get_row_at(0)[3]) == "pass → fail"
            await pilot.press("enter")  # case -> its outputs, which a note does not carry
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert "here: failed, from a git note (CI's run): no output in this clone" in text

    asyncio.run(scenario())
    assert model_server.calls == calls


def test_check_in_ci_notes_both_sides_even_without_a_git_identity(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    model_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    model_repo.commit("kind tone")
    for name in (
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
    ):
        monkeypatch.delenv(name)  # a CI checkout: no user.name anywhere
    monkeypatch.setenv("EMAIL", "")
    code, out, err = cli("check", "--base", "HEAD~1", "--notes")
    assert code == 0, out + err
    assert err.count("noted ") == 2
    for rev in ("HEAD", "HEAD~1"):
        assert {s["set_id"] for s in note_on(model_repo, rev)["sets"].values()} == {
            "support-answer"
        }


def test_a_remote_given_by_path_gets_a_tracking_ref_of_its_own(shared, model_server, cli):
    first, _second, bare = shared
    model_server.rule = answer_by_rule
    assert cli("eval", "--notes")[0] == 0
    assert cli("notes", "push", str(bare))[0] == 0
    assert cli("notes", "fetch", str(bare))[0] == 0
    refs = first.git("for-each-ref", "--format=%(refname)", "refs/notes/")
    assert f"refs/notes/promptvc-remote/{str(bare).replace('/', '_')}" in refs.split()


def test_a_blob_that_is_not_the_response_its_path_names_is_not_imported(shared, cli, monkeypatch):
    from promptvc.git.keyedtree import commit_blobs
    from promptvc.git.repo import GitRepo as Git

    first, second, _bare = shared
    forged = json.dumps({"key": "f" * 64, "text": "a forged answer"}).encode()
    commit_blobs(Git(first.root), "refs/promptvc/responses", {"a" * 64: forged, "b" * 64: b"{"})
    first.git("push", "-q", "origin", "refs/promptvc/responses")
    monkeypatch.chdir(second.root)
    code, out, _ = cli("responses", "fetch")
    assert code == 0 and "fetched 0 responses from origin" in out


@pytest.mark.parametrize("case", [None, "refund-window"])
def test_a_clone_that_fetched_notes_bisects_and_blames_sending_nothing(
    shared, model_server, cli, monkeypatch, case
):
    from tests.test_bisect import answer_unless_told_not_to, first_bad, tone_history

    first, second, _bare = shared
    model_server.rule = answer_unless_told_not_to
    good = first.head()
    shas = tone_history(first, 8, broken_at=5)
    first.git("push", "-q", "origin", "main")
    # CI evaluates whole sets; a case's bisection reads the case statuses of their notes.
    code, out, err = cli("bisect", "support-answer", good, "HEAD")
    assert code == 0, out + err
    assert shas[5].startswith(first_bad(out)) and model_server.calls > 0
    assert cli("notes", "write", good, *shas.values())[0] == 0
    assert cli("notes", "push")[0] == 0
    sent = model_server.calls

    monkeypatch.chdir(second.root)
    second.git("pull", "-q", "origin", "main")
    assert cli("notes", "fetch")[0] == 0
    extra = ("--case", case) if case else ()
    code, again, err = cli("bisect", "support-answer", *extra, good, "HEAD")
    assert code == 0, again + err
    assert first_bad(again) == first_bad(out)
    assert model_server.calls == sent  # every step came from a note
    assert "evaluated 0 (0 calls" in again and "from a note (ci)" in again
    assert "evaluated:" not in again

    code, blamed, err = cli("blame", "support-answer", "refund-window")
    assert code == 0, blamed + err
    broke = next(line for line in blamed.splitlines() if "pass→fail" in line)
    assert broke.startswith(shas[5][:7]) and "fail · ci" in broke
    assert model_server.calls == sent


def test_the_case_view_history_strip_reads_notes_in_a_fresh_clone(
    shared, model_server, cli, monkeypatch
):
    from promptvc.tui.model import HistoryBrowser
    from promptvc.tui.screens import history_strip
    from promptvc.workspace import Workspace
    from tests.test_bisect import answer_unless_told_not_to, tone_history

    first, second, _bare = shared
    model_server.rule = answer_unless_told_not_to
    shas = tone_history(first, 3, broken_at=2)
    first.git("push", "-q", "origin", "main")
    for sha in shas.values():
        assert cli("eval", "support-answer", "--rev", sha, "--notes")[0] in (0, 1)
    assert cli("notes", "push")[0] == 0
    sent = model_server.calls

    monkeypatch.chdir(second.root)
    second.git("pull", "-q", "origin", "main")
    assert cli("notes", "fetch")[0] == 0
    marks = HistoryBrowser(Workspace.open()).case_marks("support-answer", "refund-window")
    assert [m.verdict for m in marks[-3:]] == ["pass", "fail", "fail"]
    assert {m.source for m in marks[-3:]} == {"ci"}
    strip = str(history_strip(marks, shas[3]))
    assert strip.startswith("history  ") and strip.split()[1].endswith("✓✗✗")
    assert f"pass→fail at {shas[2][:7]}" in strip
    assert model_server.calls == sent


def _hostile(entry: dict, rows: list | None = None) -> str:
    from promptvc.providers import key_environment

    rows = rows if rows is not None else [{"set_id": "s", "set_key": "k", "prompt": "p"}]
    doc = {"promptvc_notes": 1, "sets": {"k": entry}, "commit_sets": {key_environment(): rows}}
    return json.dumps(doc)


_CLAIM = {"set_key": "k", "set_id": "s", "score": 1.0, "status": "passed"}


@pytest.mark.parametrize(
    "note, warned",
    [
        ("[" * 100_000 + "]" * 100_000, True),
        (_hostile(_CLAIM | {"provider": 7, "cache_saved": "b"}), True),
        (_hostile(_CLAIM | {"cases": "many"}), True),
        (_hostile(_CLAIM | {"score": 7.5}), True),
        (_hostile(_CLAIM).replace('"score": 1.0', '"score": NaN'), True),
        (_hostile(_CLAIM | {"cost": -3.0}), True),
        (_hostile(_CLAIM | {"status": ["passed"]}), True),
        (_hostile(_CLAIM | {"case_results": {"c": {"status": {}}, "d": []}}), False),
        (_hostile(_CLAIM | {"provider": "x"}, [{"set_id": "s", "set_key": ["k"]}]), False),
        (_hostile(_CLAIM), False),  # fields missing: shown with what it has
    ],
    ids=[
        "deeply-nested",
        "wrong-types",
        "wrong-count",
        "score-above-one",
        "score-nan",
        "negative-cost",
        "unhashable-status",
        "unhashable-case-status",
        "unhashable-key",
        "missing-fields",
    ],
)
@pytest.mark.parametrize("command", [("log",), ("log", "--json"), ("blame", "s", "c")])
def test_a_hostile_note_is_a_warning_never_a_traceback(
    model_repo, cli, tmp_path, note, warned, command
):
    head = model_repo.head()
    (tmp_path / "note").write_text(note)
    model_repo.git("notes", "--ref=promptvc", "add", "-F", str(tmp_path / "note"), head)
    code, out, err = cli(*command)
    assert code in (0, 2) and "Traceback" not in err, err[-800:]
    if warned and command == ("log",):
        assert f"skipped the promptvc note on commit {head[:7]}" in err


def test_a_fetched_blob_never_answers_a_request_it_does_not_record(
    shared, model_server, cli, monkeypatch
):
    """A hostile remote files one case's recording under another case's key, and claims a
    replay key for a blob that records no request: neither answers the request it names."""
    from promptvc.git.keyedtree import commit_blobs
    from promptvc.git.repo import GitRepo as Git

    first, second, _bare = shared
    model_server.rule = answer_by_rule
    assert cli("eval", "support-answer")[0] == 0
    recorded = db_rows(first, "SELECT * FROM responses ORDER BY key")
    assert len(recorded) == 2
    one, other = recorded
    misfiled = {k: v for k, v in other.items() if k != "source"} | {"key": one["key"]}
    misfiled["text"] = "forged: filed under another request's key"
    unasked = {"key": "c" * 64, "text": "forged: no request", "ask_key": other["ask_key"]}
    blobs = {one["key"]: json.dumps(misfiled), "c" * 64: json.dumps(unasked)}
    commit_blobs(
        Git(first.root), "refs/promptvc/responses", {k: v.encode() for k, v in blobs.items()}
    )
    first.git("push", "-q", "origin", "refs/promptvc/responses")

    monkeypatch.chdir(second.root)
    assert cli("responses", "fetch")[0] == 0
    replayable = db_rows(second, f"SELECT ask_key FROM responses WHERE key = '{'c' * 64}'")
    assert replayable == [{"ask_key": None}]  # what it says was asked is no request at all
    calls = model_server.calls
    code, out, err = cli("eval", "support-answer")
    assert code == 0, out + err
    assert model_server.calls == calls + 2  # neither forged blob stood in for a call
    assert "forged" not in json.dumps(db_rows(second, "SELECT output FROM results"))


def test_a_note_from_a_newer_promptvc_is_neither_replaced_nor_merged_away(model_repo, cli):
    from promptvc.notes import combine, dumps, empty

    head = model_repo.head()
    newer = json.dumps({"promptvc_notes": 2, "sets": {"k": {"what": "a newer promptvc's"}}})
    model_repo.git("notes", "--ref=promptvc", "add", "-m", newer, head)
    code, out, err = cli("notes", "write", "HEAD")
    assert code == 0, out + err
    assert "note format 2" in out + err  # said, not silently replaced
    assert json.loads(model_repo.git("notes", "--ref=promptvc", "show", head)) == json.loads(newer)
    ours = dumps(empty())
    assert combine(ours, newer.encode()) == newer.encode()
    assert combine(newer.encode(), ours) == newer.encode()


def test_a_note_too_large_to_be_a_promptvc_note_is_skipped_unread(
    model_repo, cli, tmp_path, monkeypatch
):
    from promptvc import notes

    monkeypatch.setattr(notes, "MAX_NOTE_BYTES", 1000)
    head = model_repo.head()
    (tmp_path / "note").write_text(_hostile(_CLAIM | {"padding": "x" * 2000}))
    model_repo.git("notes", "--ref=promptvc", "add", "-F", str(tmp_path / "note"), head)
    code, out, err = cli("log")
    assert code == 0, err
    assert f"skipped the promptvc note on commit {head[:7]}: 2," in err
    assert "larger than a promptvc note may be" in err


def test_a_fetched_blob_too_large_to_be_a_response_is_not_read(shared, cli, monkeypatch):
    from promptvc import responseshare
    from promptvc.git.keyedtree import commit_blobs
    from promptvc.git.repo import GitRepo as Git

    monkeypatch.setattr(responseshare, "MAX_RESPONSE_BYTES", 1000)
    first, second, _bare = shared
    huge = json.dumps({"key": "d" * 64, "text": "x" * 5000}).encode()
    small = json.dumps({"key": "e" * 64, "text": "fine"}).encode()
    commit_blobs(Git(first.root), "refs/promptvc/responses", {"d" * 64: huge, "e" * 64: small})
    first.git("push", "-q", "origin", "refs/promptvc/responses")
    monkeypatch.chdir(second.root)
    code, out, err = cli("responses", "fetch")
    assert code == 0, out + err
    assert "fetched 1 response from origin" in out
    assert "1 blob larger than a recorded response may be, not read" in out + err
    assert [r["key"] for r in db_rows(second, "SELECT key FROM responses")] == ["e" * 64]
