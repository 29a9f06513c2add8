"""Labelling by hand: the labels file, and the labelling screen through Textual's pilot (score,
note, skip, undo, the file written, the judge hidden until the person has scored)."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import Static

from promptvc.evals.labels import Label, append_label, parse_labels, remove_label
from promptvc.git.snapshot import WORKTREE
from promptvc.labelling import LabelSession, label_work
from promptvc.store import Store
from promptvc.tui.labelscreen import LabelApp, LabelScreen
from promptvc.workspace import Workspace
from tests.data import JUDGED_GOLDEN
from tests.model_server import last_user_text

AT = "2026-11-20T10:00:00.000+00:00"
LABELS = "evals/labels/support-answer.jsonl"


def rule(body):
    text = last_user_text(body)
    if "Rubric:" in text:
        return "It names the 30 days but not where the policy says so.\nScore: 3"
    if "How long" in text:
        return "You have 30 days from delivery."
    return "No, the window is 30 days."


@pytest.fixture
def evaluated_repo(model_repo, model_server, cli):
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    model_repo.commit("judge the answers")
    model_server.rule = rule
    code, _, err = cli("eval")
    assert code == 0, err
    return model_repo


def session(**kwargs) -> LabelSession:
    ws = Workspace.open()
    store = Store(ws.db_path)
    try:
        work = label_work(ws, store, WORKTREE, "support-answer", **kwargs)
    finally:
        store.close()
    return LabelSession(work, ws.root, ws.repo.user_name(), clock=lambda: AT)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def written(repo) -> list[dict]:
    path = repo.root / LABELS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_score_note_skip_undo_and_the_file_written(evaluated_repo):
    async def scenario():
        app = LabelApp(session())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, LabelScreen)
            assert "output 1 of 2" in text_of(app, "#label-title")
            assert "late-return" in str(app.screen.query_one("#label-case").border_title)
            assert "Says no, citing the policy" in text_of(app, "#label-rubric")
            assert "No, the window is 30 days." in text_of(app, "#label-output-text")
            # The judge's verdict is hidden until the person has scored.
            assert "hidden until you score" in text_of(app, "#label-judge")
            assert "names the 30 days" not in "".join(
                text_of(app, s) for s in ("#label-judge", "#label-last", "#label-rubric")
            )
            await pilot.press("4")
            assert written(evaluated_repo) == [
                {
                    "case": "late-return",
                    "rubric": "Says no, citing the policy",
                    "output": "No, the window is 30 days.",
                    "score": 4,
                    "by": "Ada Tester",
                    "at": AT,
                }
            ]
            last = text_of(app, "#label-last")
            assert "you 4" in last and "judge 3" in last and "names the 30 days" in last
            assert "output 2 of 2" in text_of(app, "#label-title")
            await pilot.press("n")
            await pilot.press(*"too terse", "enter")  # digits in the note are text, not scores
            await pilot.press("2")
            assert written(evaluated_repo)[1]["note"] == "too terse"
            assert written(evaluated_repo)[1]["score"] == 2
            assert "all 2 outputs walked" in text_of(app, "#label-title")
            await pilot.press("u")  # the last label goes, and its output comes back
            assert len(written(evaluated_repo)) == 1
            assert "output 2 of 2" in text_of(app, "#label-title")
            assert "note: too terse" in text_of(app, "#label-judge")
            await pilot.press("s")
            assert "all 2 outputs walked" in text_of(app, "#label-title")
            assert "1 label kept" in text_of(app, "#label-title")
            await pilot.press("q")
        assert app.return_value == 1

    asyncio.run(scenario())
    labels = parse_labels(
        (evaluated_repo.root / LABELS).read_text(), LABELS, ["late-return", "refund-window"]
    )
    assert [(x.case, x.score, x.line) for x in labels] == [("late-return", 4, 1)]


def test_a_note_can_be_dropped_with_escape_and_digits_typed_there_score_nothing(evaluated_repo):
    async def scenario():
        app = LabelApp(session())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("n", "1", "2", "escape")
            assert written(evaluated_repo) == []
            assert "note:" not in text_of(app, "#label-judge")
            await pilot.press("5")
            assert "note" not in written(evaluated_repo)[0]

    asyncio.run(scenario())


def test_labelled_outputs_are_not_offered_again(evaluated_repo, cli):
    first = session()
    first.score(5)
    again = session()
    assert again.work.already == 1 and [i.case for i in again.work.items] == ["refund-window"]
    again.score(3)
    code, out, err = cli("label", "support-answer")
    assert code == 0 and "every stored output of support-answer is labelled already" in out


def test_the_case_opened_from_the_tui_comes_first(evaluated_repo):
    work = session(first_case="refund-window").work
    assert [i.case for i in work.items] == ["refund-window", "late-return"]
    assert work.items[0].judge == (3, "It names the 30 days but not where the policy says so.")


def test_without_a_stored_run_label_says_what_to_do(model_repo, cli):
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    model_repo.commit("judge the answers")
    code, out, err = cli("label", "support-answer")
    assert code == 2 and err.strip() == (
        "promptvc: no stored outputs of golden set support-answer to label; "
        "run `promptvc eval support-answer` first"
    )
    code, out, err = cli("label", "support-answr")
    assert code == 2 and "(did you mean 'support-answer'" in err


def test_a_set_without_a_rubric_has_nothing_to_label(model_repo, cli):
    code, out, err = cli("label", "support-answer")
    assert code == 2 and "has no llm-rubric assertion" in err and err.count("\n") == 1


def test_the_outputs_of_the_latest_run_when_none_is_stored_for_the_snapshot(evaluated_repo):
    evaluated_repo.write("prompts/partials/tone.jinja", "Be formal.\n")  # a new set key
    work = session().work
    assert len(work.items) == 2 and "latest run" in work.source


def test_append_and_remove_keep_the_rest_of_the_file(tmp_path):
    path = "evals/labels/x.jsonl"
    (tmp_path / "evals/labels").mkdir(parents=True)
    (tmp_path / path).write_text('{"case": "a", "rubric": "r", "output": "o", "score": 1}')
    line = append_label(tmp_path, path, Label("b", "r", "o\nwith a newline", 5, "n", "me", AT))
    text = (tmp_path / path).read_text()
    assert text.count("\n") == 2 and text.endswith(line + "\n")
    labels = parse_labels(text, path, ["a", "b"])
    assert labels[1].output == "o\nwith a newline" and labels[1].line == 2
    assert remove_label(tmp_path, path, line)
    assert (tmp_path / path).read_text() == (
        '{"case": "a", "rubric": "r", "output": "o", "score": 1}\n'
    )
    assert not remove_label(tmp_path, path, line)
    fresh = append_label(tmp_path, "evals/labels/new/y.jsonl", Label("a", "r", "o", 3))
    assert (tmp_path / "evals/labels/new/y.jsonl").read_text() == fresh + "\n"


def test_l_in_the_tuis_case_view_labels_that_set_from_that_case(evaluated_repo):
    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser
    from promptvc.tui.screens import CaseScreen

    async def scenario():
        app = PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("enter", "enter", "down", "enter")  # commit, set, 2nd case
            assert isinstance(app.screen, CaseScreen)
            assert app.screen.case.case_id == "refund-window"
            await pilot.press("l")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, LabelScreen)
            assert "refund-window" in str(app.screen.query_one("#label-case").border_title)
            await pilot.press("5", "q")
            assert isinstance(app.screen, CaseScreen)  # back where the person was

    asyncio.run(scenario())
    assert [(x["case"], x["score"]) for x in written(evaluated_repo)] == [("refund-window", 5)]
