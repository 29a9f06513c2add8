import asyncio
import subprocess
import sys

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static

from promptvc.tui.app import PromptvcApp
from promptvc.tui.model import CaseRow, HistoryBrowser, SetRow
from promptvc.tui.screens import CaseScreen, DiffScreen, KeysScreen, SetScreen
from promptvc.workspace import Workspace
from tests.data import MODEL_GOLDEN, answer_by_rule


def vague_rule(body):
    return (
        "I am not sure, sorry." if "Be vague." in body.get("system", "") else answer_by_rule(body)
    )


@pytest.fixture
def history_repo(support_repo, model_server, cli):
    """Three commits touching prompts: evaluated, evaluated with a regression, not evaluated."""
    model_server.rule = vague_rule
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    assert cli("eval", "--rev", "HEAD")[0] == 0
    support_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    support_repo.commit("vaguer tone")
    assert cli("eval", "--rev", "HEAD")[0] == 1
    support_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    support_repo.commit("kind tone")
    return support_repo


def make_app():
    return PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)


def run(coro):
    return asyncio.run(coro)


def cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_row_at(row)[column])


def test_main_screen_lists_commits_with_scores_and_deltas(history_repo):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            commits = app.query_one("#commits", DataTable)
            assert commits.row_count == 4
            assert [cell(commits, i, 5) for i in range(4)] == [
                "kind tone",
                "vaguer tone",
                "judge the model",
                "add the support answerer",
            ]
            assert cell(commits, 0, 4) == "Ada Tester"
            assert cell(commits, 0, 2) == "—"  # not evaluated
            assert cell(commits, 1, 2) == "0.00" and cell(commits, 1, 3) == "▼−1.00"
            assert "4 commits touching prompts" in str(app.query_one("#title", Static).render())
            assert "not evaluated here yet" in str(app.query_one("#hint", Static).render())
            await pilot.press("down")
            sets = app.query_one("#sets", DataTable)
            assert (
                cell(sets, 0, 0) == "support-answer"
                and cell(sets, 0, 1) == "1.00"
                and cell(sets, 0, 2) == "0.00"
            )
            assert cell(sets, 0, 5).startswith("$") and cell(sets, 0, 6) == "anthropic"
            flips = str(app.query_one("#flips", Static).render())
            assert (
                "support-answer/late-return pass → fail" in flips
                and "refund-window pass → fail" in flips
            )

    run(scenario())


def test_drill_down_to_a_case_and_back(history_repo):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.press("down", "enter")  # commit -> sets
            assert app.focused.id == "sets"
            await pilot.press("enter")  # set -> cases
            assert isinstance(app.screen, SetScreen)
            cases = app.screen.query_one("#cases", DataTable)
            assert cell(cases, 0, 3) == "pass → fail"
            await pilot.press("enter")  # case -> outputs
            assert isinstance(app.screen, CaseScreen)
            await app.workers.wait_for_complete()  # the diff and the request arrive from workers
            await pilot.pause()
            text = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert "I am not sure, sorry." in text and "30 days" in text
            assert '✗ not-contains "sorry"' in text
            assert "+Be vague." in text  # the commit's prompt diff, under the case
            await pilot.press("escape", "escape")
            assert not isinstance(app.screen, (SetScreen, CaseScreen))

    run(scenario())


def test_a_set_screen_asks_nothing_of_the_app_it_runs_in():
    # It once called a method that only PromptvcApp has; it gets what it shows in its constructor.
    row = SetRow("support-answer", "support/answer", None, None, ())
    case = CaseRow(
        "refund-window", {"status": "failed", "score": 0.0, "output": "sorry", "grades": None}, None
    )

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(
                SetScreen(
                    row,
                    [case],
                    "abc1234 vaguer tone",
                    open_case=lambda c: CaseScreen(row.set_id, c, [Text("+Be vague.")]),
                )
            )

    async def scenario():
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("enter")
            assert isinstance(app.screen, CaseScreen)
            assert "+Be vague." in " ".join(str(w.render()) for w in app.screen.query(Static))

    run(scenario())


def test_diff_keys_filter_and_quit(history_repo):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.press("down", "d")
            assert isinstance(app.screen, DiffScreen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = str(app.screen.query_one(Static).render())
            assert "+Be vague." in text and "via partials/tone.jinja" in text
            await pilot.press("escape", "question_mark")
            assert isinstance(app.screen, KeysScreen)
            await pilot.press("escape", "slash")
            await pilot.press(*"nomatch", "enter")
            assert app.query_one("#commits", DataTable).row_count == 0
            assert "no commit matches" in str(app.query_one("#hint", Static).render())
            await pilot.press("slash", "escape")
            assert app.query_one("#commits", DataTable).row_count == 4
            await pilot.press("q")
        assert app.return_code == 0 or app.return_code is None

    run(scenario())


def test_evaluate_in_place_against_the_model_server(history_repo, model_server):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            calls = model_server.calls
            await pilot.press("e")
            await app.workers.wait_for_complete()
            await pilot.pause()
            commits = app.query_one("#commits", DataTable)
            assert cell(commits, 0, 2) == "1.00" and cell(commits, 0, 3) == "▲+1.00"
            assert model_server.calls == calls + 2  # the parent came from the store
            # the figures of the comparison it just ran, stored with it
            figures = str(app.query_one("#flips", Static).render())
            assert "support-answer  +1.00 (95% CI +1.00..+1.00)  2 flips ↑  p=1.00" in figures

    run(scenario())


def test_results_added_by_another_process_show_on_reload(history_repo, cli):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            assert cell(app.query_one("#commits", DataTable), 0, 2) == "—"
            # another process (a hook, a CI import) writes while the browser is open
            subprocess.run(
                [sys.executable, "-m", "promptvc", "eval", "--rev", "HEAD"],
                check=True,
                capture_output=True,
            )
            app.refresh_if_changed()
            await pilot.pause()
            assert cell(app.query_one("#commits", DataTable), 0, 2) == "1.00"

    run(scenario())


def test_empty_repository_says_what_to_do(git_repo):
    git_repo.write("README.md", "hi\n")
    git_repo.commit("docs")

    async def scenario():
        app = make_app()
        async with app.run_test(size=(120, 30)):
            assert "run `promptvc init`" in str(app.query_one("#hint", Static).render())

    run(scenario())


def test_not_a_repository_exits_2(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("tui")
    assert code == 2 and "not a git repository" in err


def test_snapshot_main_screen(history_repo, snap_compare, monkeypatch):
    monkeypatch.delenv("NO_COLOR")  # review the colours too
    assert snap_compare(make_app(), terminal_size=(150, 30), press=["down"])


def test_snapshot_set_screen(history_repo, snap_compare, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    assert snap_compare(make_app(), terminal_size=(150, 30), press=["down", "enter", "enter"])


def test_evaluate_above_the_spend_cap_asks_first(history_repo, model_server):
    from promptvc.tui.screens import ConfirmScreen

    history_repo.write("promptvc.toml", "[eval]\nspend_cap = 0.0\n")

    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            calls = model_server.calls
            await pilot.press("e")
            await app.workers.wait_for_complete()  # planning runs in a worker
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "above the spend cap" in str(app.screen.query_one(Static).render())
            await pilot.press("n")
            await pilot.pause()
            assert model_server.calls == calls
            await pilot.press("e")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert model_server.calls == calls + 2

    run(scenario())


def test_at_80_columns_scores_stay_and_the_subject_is_cut(history_repo):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("down")
            commits = app.query_one("#commits", DataTable)
            assert [c.label.plain for c in commits.columns.values()][:4] == [
                "commit",
                "date",
                "score",
                "Δ",
            ]
            assert (
                commits.region.width < 80
                and sum(c.get_render_width(commits) for c in list(commits.columns.values())[:4])
                <= commits.region.width
            )

    run(scenario())


def test_the_filter_narrows_commit_scores_and_reload_keeps_the_commit(history_repo, cli):
    history_repo.write(
        "evals/other.yaml",
        "prompt: support/answer\nprovider: echo\ncases:\n"
        "  - {id: a, vars: {question: q, policy: p}, assert: [{type: contains, value: nope}]}\n",
    )
    history_repo.commit("another set, failing")
    assert cli("eval", "--rev", "HEAD", "other")[0] == 1

    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)) as pilot:
            commits = app.query_one("#commits", DataTable)
            assert cell(commits, 0, 2) == "0.00"  # only the failing echo set is evaluated at HEAD
            await pilot.press("slash", *"support-answer", "enter")
            assert cell(commits, 0, 2) == "—"  # support-answer is not evaluated at HEAD
            await pilot.press("down", "down")
            selected = app.selected()
            assert selected is not None and selected.commit.subject == "vaguer tone"
            assert cell(commits, 2, 2) == "0.00"
            app.action_reload()
            await pilot.pause()
            assert app.selected().commit.subject == "vaguer tone"

    run(scenario())


def test_an_empty_history_draws_no_sparkline(git_repo):
    from textual.widgets import Sparkline

    git_repo.write("README.md", "hi\n")
    git_repo.commit("docs")

    async def scenario():
        app = make_app()
        async with app.run_test(size=(120, 30)):
            assert list(app.query_one("#spark", Sparkline).data or []) == []

    run(scenario())


def test_the_case_view_shows_the_variables_and_the_request(history_repo):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 50)) as pilot:
            await pilot.press("down", "enter", "enter", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            details = str(app.screen.query_one("#case-details", Static).render())
            assert "question: Can I return after 2 months?" in details
            assert "system:" in details and "Be vague." in details


ECHO_SET = """\
prompt: support/answer
provider: echo
id: prompt-checks
vars: {policy: "P", question: "Q"}
cases:
  - id: has-policy
    assert: [{type: contains, value: "Policy:"}]
"""


def test_overall_delta_compares_only_sets_evaluated_on_both_sides_and_marks_partial(
    support_repo, model_server, cli
):
    from promptvc.history import history
    from promptvc.store import Store

    model_server.rule = lambda body: "I am not sure, sorry."
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.write("evals/prompt-checks.yaml", ECHO_SET)
    support_repo.commit("two sets")
    assert (
        cli("eval", "--rev", "HEAD", "prompt-checks")[0] == 0
    )  # echo 1.00; the model set is not run
    support_repo.write(
        "evals/support-answer.yaml", MODEL_GOLDEN.replace("after 2 months", "after 3 months")
    )
    support_repo.commit("model set changed, evaluated")
    assert cli("eval", "--rev", "HEAD")[0] == 1  # model set 0.00, echo set 1.00
    support_repo.write(
        "evals/support-answer.yaml", MODEL_GOLDEN.replace("after 2 months", "after 4 months")
    )
    support_repo.commit("model set changed, not evaluated")
    points = history(Workspace.open(), Store(support_repo.root / ".promptvc/promptvc.db"))
    latest, evaluated = points[0], points[1]
    # HEAD~1: the overall mean is 0.50 against 1.00 at its parent, only because the parent had one
    # set evaluated; compared like with like (the echo set, on both sides) nothing changed.
    assert evaluated.overall == 0.5 and evaluated.overall_delta == 0.0 and not evaluated.partial
    assert latest.partial == ("support-answer",) and latest.overall == 1.0

    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)):
            commits = app.query_one("#commits", DataTable)
            assert cell(commits, 0, 3) == "partial"
            assert cell(commits, 1, 2) == "0.50" and cell(commits, 1, 3) == "·"

    run(scenario())


def test_the_estimate_before_e_follows_what_the_cases_answered_before(history_repo, model_server):
    """Output is estimated at the length earlier answers had, not at a quarter of max_tokens."""
    import sqlite3

    browser = HistoryBrowser(Workspace.open())
    point = browser.commits()[0]  # "kind tone": not evaluated yet; its parent's results are stored
    requests, estimate = browser.cost_to_evaluate(point)
    db = history_repo.root / ".promptvc/promptvc.db"
    spent_before = sqlite3.connect(db).execute("SELECT sum(cost) FROM runs").fetchone()[0]
    browser.evaluate(point, lambda done, total: None)
    spent = sqlite3.connect(db).execute("SELECT sum(cost) FROM runs").fetchone()[0] - spent_before
    assert requests == model_server.calls - 4 == 2  # the two cases at the new commit
    assert 0.5 < estimate / spent < 2, (estimate, spent)


def test_the_case_view_has_a_history_strip_from_the_store(history_repo):
    """refund-window is not evaluated at the first commit, passed at "judge the model", failed at
    "vaguer tone", is not evaluated at "kind tone": four marks, the selected commit's underlined,
    and the flip named."""
    vaguer = history_repo.git("rev-parse", "HEAD~1").strip()

    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 50)) as pilot:
            await pilot.press("down", "enter", "enter", "down", "enter")
            assert isinstance(app.screen, CaseScreen) and app.screen.case.case_id == "refund-window"
            await app.workers.wait_for_complete()
            await pilot.pause()
            strip = app.screen.query_one("#case-history", Static).render()
            assert str(strip).startswith("history  ·✓✗·")
            assert f"pass→fail at {vaguer[:7]}" in str(strip)
            underlined = [s for s in strip.spans if getattr(s.style, "underline", False)]
            assert [str(strip)[s.start : s.end] for s in underlined] == ["✗"]

    run(scenario())


def test_a_safety_set_is_tagged_in_the_sets_table(history_repo, cli):
    golden = (history_repo.root / "evals/support-answer.yaml").read_text(encoding="utf-8")
    history_repo.write("evals/support-answer.yaml", "kind: safety\n" + golden)
    history_repo.commit("the support set guards safety")
    assert cli("eval", "--rev", "HEAD")[0] == 0

    async def scenario():
        app = make_app()
        async with app.run_test(size=(140, 36)):
            sets = app.query_one("#sets", DataTable)
            assert cell(sets, 0, 0) == "support-answer [safety]"

    run(scenario())
