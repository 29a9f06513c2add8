"""`eval --shard K/N` and `merge`: N machines' parts combined score as one unsharded run."""

from __future__ import annotations

import shutil

import pytest

from promptvc.evaluation.shards import Shard, shard_of
from tests.helpers import db_rows
from tests.model_server import last_user_text

CASES = 12

MANY = "prompt: support/answer\nprovider: anthropic\nthreshold: 0.5\n" + (
    'vars: {policy: "Refunds within 30 days."}\ncases:\n'
    + "".join(
        f'  - id: case-{i}\n    vars: {{question: "question {i}"}}\n'
        '    assert: [{type: contains, value: "yes"}]\n'
        for i in range(CASES)
    )
)


def answer_some(body):
    number = int(last_user_text(body).split()[-1])
    return "yes" if number % 3 else "no"


@pytest.fixture
def many_repo(model_repo):
    model_repo.write("evals/many.yaml", MANY)
    model_repo.commit("a larger set")
    return model_repo


def move_db(repo, to) -> str:
    """The store as a CI job would upload it: the database with its write-ahead log."""
    for suffix in ("", "-wal", "-shm"):
        source = repo.root / f".promptvc/promptvc.db{suffix}"
        if source.exists():
            shutil.move(source, f"{to}{suffix}")
    return str(to)


def test_every_case_lands_in_exactly_one_shard_and_always_the_same():
    ids = [f"case-{i}" for i in range(200)]
    for count in (1, 2, 3, 7):
        owners = [shard_of("set", i, count) for i in ids]
        assert all(1 <= o <= count for o in owners)
        assert owners == [shard_of("set", i, count) for i in ids]
        for k in range(1, count + 1):
            held = [i for i in ids if Shard(k, count).holds("set", i)]
            assert held == [i for i, o in zip(ids, owners, strict=True) if o == k]
    assert {shard_of("set", i, 2) for i in ids} == {1, 2}  # both shards get work


@pytest.mark.parametrize("spec", ["3/2", "0/2", "a/b", "1/0", "1", "-1/2", "1/2/3"])
def test_a_bad_shard_spec_is_one_line_and_exit_2(model_repo, cli, spec):
    code, out, err = cli("eval", "--shard", spec)
    assert code == 2, out + err
    assert err.count("\n") == 1 and "--shard" in err and "Traceback" not in err


def test_shards_merged_score_as_one_unsharded_run(many_repo, model_server, cli, tmp_path):
    model_server.rule = answer_some
    parts = []
    for k in (1, 2):
        code, out, err = cli("eval", "many", "--shard", f"{k}/2")
        assert code in (0, 1), out + err
        parts.append(move_db(many_repo, tmp_path / f"shard{k}.db"))
    assert model_server.calls == CASES  # each case sent once, by one shard
    # A shard records no set score: its part is not the set.
    for path in parts:
        assert db_rows_at(path, "SELECT * FROM set_scores") == []

    code, out, err = cli("merge", *parts)
    assert code == 0, out + err
    assert model_server.calls == CASES  # the merge sends nothing
    merged = db_rows(many_repo, "SELECT * FROM set_scores")
    assert [r["set_id"] for r in merged] == ["many"]
    assert "merge" in out and "0 calls sent" in out
    move_db(many_repo, tmp_path / "merged.db")

    code, out, err = cli("eval", "many")  # unsharded, in a fresh store
    assert code == 0, out + err
    unsharded = db_rows(many_repo, "SELECT * FROM set_scores")
    for column in ("set_key", "score", "passed", "failed", "cases", "status"):
        assert merged[0][column] == unsharded[0][column], column
    assert merged[0]["score"] == pytest.approx(8 / 12)


def test_merge_says_which_cases_a_missing_shard_held(many_repo, model_server, cli, tmp_path):
    model_server.rule = answer_some
    cli("eval", "many", "--shard", "1/2")
    only = move_db(many_repo, tmp_path / "shard1.db")
    code, out, err = cli("merge", only)
    assert code == 2
    assert "is a shard missing?" in err and err.count("\n") == 1


def test_merge_refuses_a_file_that_is_not_there(model_repo, cli, tmp_path):
    code, out, err = cli("merge", str(tmp_path / "nope.db"))
    assert code == 2 and "no such database file" in err


def db_rows_at(path: str, query: str) -> list[dict]:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(query)]
    finally:
        conn.close()


def test_merge_says_a_database_of_something_else_is_not_a_promptvc_database(
    model_repo, cli, tmp_path
):
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    code, out, err = cli("merge", str(other))
    assert code == 2, out + err
    assert "is not a promptvc database" in err and err.count("\n") == 1
    assert "older promptvc" not in err
