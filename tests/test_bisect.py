"""`bisect` finds the commit that broke a set (or a case) in a real history, reusing what is
stored; `blame` shows a case's status along history with the commit of each change."""

from __future__ import annotations

import re
import time

import pytest

from tests.data import answer_by_rule

BROKEN = "Never mention a number of days."


def answer_unless_told_not_to(body):
    """The model obeys the seeded instruction: the refund-window case loses its "30 days"."""
    if BROKEN in str(body.get("system", "")):
        return "You can return it, sorry for the trouble."
    return answer_by_rule(body)


def tone_history(repo, commits: int, broken_at: int) -> dict[int, str]:
    """`commits` commits that each change the partial the set's prompt includes; from
    `broken_at` on it carries the instruction that breaks a case. Other commits between them
    change nothing the set reads."""
    shas = {}
    for i in range(1, commits + 1):
        tone = f"Be warm and brief (v{i}).\n" + (BROKEN + "\n" if i >= broken_at else "")
        repo.write("prompts/partials/tone.jinja", tone)
        shas[i] = commit(repo, f"tone v{i}")
        if i % 4 == 0:
            repo.write("notes.txt", f"unrelated {i}\n")
            commit(repo, f"unrelated {i}")
    return shas


def commit(repo, message: str) -> str:
    """As the fixture's commit, for histories longer than its calendar: an hour apart."""
    repo.stage()
    repo.commits += 1
    date = f"{1_800_000_000 + 3600 * repo.commits} +0000"
    repo.git(
        "commit", "-q", "-m", message, env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    )
    return repo.head()


def first_bad(out: str) -> str:
    return re.search(r"first bad commit: (\w+)", out)[1]


@pytest.mark.parametrize("case", [None, "refund-window"])
def test_bisect_finds_the_seeded_regression_then_finds_it_again_for_free(
    model_repo, model_server, cli, case
):
    model_server.rule = answer_unless_told_not_to
    good = model_repo.head()
    shas = tone_history(model_repo, 16, broken_at=11)
    extra = ("--case", case) if case else ()
    code, out, err = cli("bisect", "support-answer", *extra, good, "HEAD")
    assert code == 0, out + err
    assert shas[11].startswith(first_bad(out))
    assert "tone v11" in out and "support/answer" in out  # the commit and its diff summary
    sent = model_server.calls
    per_step = 1 if case else 2  # the cases of one commit's run
    # GOOD, BAD and a binary search over 16 candidates (log2: 4 steps), never all 16.
    assert 0 < sent <= per_step * (2 + 5)
    assert f"{sent} call" in out
    again_code, again, _ = cli("bisect", "support-answer", *extra, good, "HEAD")
    assert again_code == 0 and first_bad(again) == first_bad(out)
    assert model_server.calls == sent  # every step is stored now
    assert "evaluated 0 (0 calls" in again and "evaluated:" not in again


def test_bisect_over_64_commits_with_everything_stored_sends_nothing(support_repo, cli):
    # echo answers with the prompt itself: the broken instruction fails the not-contains case.
    golden = (support_repo.root / "evals/support-answer.yaml").read_text()
    golden = golden.replace('value: "sorry"', 'value: "Never mention"')
    support_repo.write("evals/support-answer.yaml", "provider: echo\n" + golden)
    good = commit(support_repo, "echo the prompt")
    shas = tone_history(support_repo, 64, broken_at=40)
    code, out, err = cli("bisect", "support-answer", good, "HEAD")
    assert code == 0, out + err
    assert shas[40].startswith(first_bad(out))
    started = time.perf_counter()
    code, again, err = cli("bisect", "support-answer", good, "HEAD")
    elapsed = time.perf_counter() - started
    assert code == 0 and first_bad(again) == first_bad(out)
    assert "64 commits in the range" in again and "evaluated 0" in again
    assert elapsed < 5, elapsed


def test_bisect_says_plainly_when_there_is_nothing_to_find(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    good = model_repo.head()
    tone_history(model_repo, 3, broken_at=99)  # never broken
    code, out, err = cli("bisect", "support-answer", good, "HEAD")
    assert code == 2 and "no drop to look for" in err and err.count("\n") == 1
    code, out, err = cli("bisect", "support-answer", "HEAD", "HEAD")
    assert code == 2 and "no commit in" in err
    code, out, err = cli("bisect", "nope", good, "HEAD")
    assert code == 2 and "must name one golden set" in err
    code, out, err = cli("bisect", "support-answer", "--case", "late-return", good, "HEAD")
    assert code == 2 and "must pass at GOOD" in err and "passes at BAD" in err


def test_blame_shows_each_change_of_status_with_its_commit(model_repo, model_server, cli):
    model_server.rule = answer_unless_told_not_to
    shas = tone_history(model_repo, 5, broken_at=3)
    model_repo.write("prompts/partials/tone.jinja", "Be warm and brief (fixed).\n")
    fixed = commit(model_repo, "drop the instruction")
    for sha in [*shas.values(), fixed]:
        assert cli("eval", "--rev", sha)[0] in (0, 1)
    calls = model_server.calls
    code, out, err = cli("blame", "support-answer", "refund-window")
    assert code == 0, out + err
    assert model_server.calls == calls  # blame reads the store only
    lines = out.splitlines()
    broke = next(line for line in lines if "pass→fail" in line)
    mended = next(line for line in lines if "fail→pass" in line)
    assert broke.startswith(shas[3][:7]) and mended.startswith(fixed[:7])
    summary = lines[lines.index(broke) + 1]
    assert "support/answer" in summary and "rendered" in summary
    assert sum("pass→fail" in line or "fail→pass" in line for line in lines) == 2
