"""Repeated samples: `repeat`, `pass_at`, `pass_all`, `judge_repeat` and `cluster` in a golden set;
a case over its samples (passes, spread, Wilson interval, flaky), stored and shown; the judge's
share of a case's spread."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sqlite3
import threading
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.assertions import Grade
from promptvc.evals.repeats import PassRule, judge_variance, pooled
from promptvc.evals.scoring import CaseResult, CaseSummary, Status
from promptvc.evaluation.plan import plan_eval
from promptvc.evaluation.request import ModelRequest
from promptvc.stats import wilson
from promptvc.store import Store
from tests.data import GOLDEN, MODEL_GOLDEN
from tests.helpers import db_rows, goldens, renderer
from tests.model_server import last_user_text

# -- the options --------------------------------------------------------------------------------


def test_the_options_are_read_with_their_defaults(support_repo):
    plain = goldens(support_repo)["support-answer"]
    assert (plain.repeat, plain.pass_rule, plain.judge_repeat) == (1, PassRule(), 1)
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace(
            "threshold: 0.9", "threshold: 0.9\nrepeat: 5\npass_at: 4\njudge_repeat: 3"
        ).replace("  - id: late-return", "  - id: late-return\n    cluster: returns"),
    )
    golden = goldens(support_repo)["support-answer"]
    assert (golden.repeat, golden.pass_rule, golden.judge_repeat) == (5, PassRule(4), 3)
    assert [c.cluster for c in golden.cases] == [None, "returns"]
    support_repo.write(
        "evals/support-answer.yaml", GOLDEN.replace("threshold: 0.9", "repeat: 3\npass_all: true")
    )
    assert goldens(support_repo)["support-answer"].pass_rule == PassRule(every=True)


@pytest.mark.parametrize(
    "options, message",
    [
        ("repeat: 0", "2: repeat must be a whole number from 1 to 100, not 0"),
        ("repeat: 101", "2: repeat must be a whole number from 1 to 100, not 101"),
        ("repeat: '3'", "2: repeat must be a whole number from 1 to 100, not '3'"),
        ("repeat: true", "2: repeat must be a whole number from 1 to 100, not True"),
        ("repeat: 2.5", "2: repeat must be a whole number from 1 to 100, not 2.5"),
        ("repeat: 3\npass_at: 4", "3: pass_at must be a whole number from 1 to repeat (3), not 4"),
        ("pass_at: 2", "2: pass_at must be a whole number from 1 to repeat (1), not 2"),
        ("repeat: 3\npass_at: 0", "3: pass_at must be a whole number from 1 to repeat (3), not 0"),
        (
            "repeat: 3\npass_all: true\npass_at: 2",
            "4: pass_at and pass_all say different things: give one of them",
        ),
        ("pass_all: yes please", "2: pass_all must be true or false"),
        ("judge_repeat: 0", "2: judge_repeat must be a whole number from 1 to 20, not 0"),
        ("repeats: 3", "2: unknown key 'repeats' (did you mean 'repeat' or 'judge_repeat'?)"),
    ],
)
def test_bad_options_name_the_file_and_line(support_repo, cli, options, message):
    support_repo.write("evals/support-answer.yaml", GOLDEN.replace("threshold: 0.9", options))
    with pytest.raises(UserError) as caught:
        goldens(support_repo)
    assert str(caught.value) == f"evals/support-answer.yaml:{message}"
    code, _, err = cli("eval")
    assert code == 2 and err == f"promptvc: evals/support-answer.yaml:{message}\n"


def test_a_bad_cluster_names_its_case_and_line(support_repo):
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace("  - id: late-return", "  - id: late-return\n    cluster: [a, b]"),
    )
    with pytest.raises(UserError) as caught:
        goldens(support_repo)
    assert str(caught.value) == (
        "evals/support-answer.yaml:10: case 'late-return': cluster must be a name, not ['a', 'b']"
    )


def test_clusters_from_case_files(support_repo):
    support_repo.write(
        "evals/cases/a.jsonl",
        '{"id": "one", "cluster": "chat-1", "vars": {"question": "q1"}}\n{"question": "q2"}\n',
    )
    support_repo.write("evals/cases/b.csv", "question,__cluster\nq3,doc-7\nq4,\n")
    for name, cases in (("j", "cases/a.jsonl"), ("c", "cases/b.csv")):
        support_repo.write(f"evals/{name}.yaml", f"prompt: support/answer\ncases: {cases}\n")
    sets = goldens(support_repo)
    assert [c.cluster for c in sets["j"].cases] == ["chat-1", None]
    assert [c.cluster for c in sets["c"].cases] == ["doc-7", None]
    assert "__cluster" not in sets["c"].cases[0].vars


# -- a case over its samples ----------------------------------------------------------------------


@given(st.integers(1, 100), st.integers(1, 100))
def test_the_pass_rule_never_asks_more_than_there_is(samples, k):
    for rule in (PassRule(), PassRule(k), PassRule(every=True)):
        assert 1 <= rule.needed(samples) <= samples
    assert PassRule().needed(samples) == math.ceil(samples / 2)
    assert PassRule(k).needed(samples) == min(k, samples)
    assert PassRule(every=True).needed(samples) == samples


def _sample(case: str, sample: int, score: float, passed: bool, grades=()) -> CaseResult:
    status = Status.PASSED if passed else Status.FAILED
    return CaseResult(
        f"k{sample}", "s", case, sample, "p", "anthropic", status, score, "out", grades
    )


def test_a_case_summary_over_five_samples():
    samples = tuple(_sample("a", i, s, s == 1.0) for i, s in enumerate([1.0, 1.0, 1.0, 0.0, 0.5]))
    case = CaseSummary("a", samples)
    assert (case.n, case.passes, case.needed, case.passed, case.flaky) == (5, 3, 3, True, True)
    assert case.score == pytest.approx(0.7)
    assert case.spread == pytest.approx(math.sqrt(((0.3**2) * 3 + 0.7**2 + 0.2**2) / 5))
    assert case.interval == wilson(3, 5)
    assert not CaseSummary("a", samples, PassRule(every=True)).passed
    assert CaseSummary("a", samples, PassRule(3)).passed
    assert not CaseSummary("a", samples, PassRule(4)).passed
    steady = CaseSummary("a", samples[:3])
    assert (steady.flaky, steady.spread, steady.judge_share) == (False, 0.0, None)


def _judged(*draws: float) -> tuple[Grade, ...]:
    return (
        Grade("contains x", True, 1.0, "ok"),
        Grade("llm-rubric", True, sum(draws) / len(draws), "judge", draws=draws),
    )


def test_the_judge_share_is_judge_variance_over_all_variance():
    # Two answers, each judged twice; a contains assertion (always 1.0) weighs as much as the rubric.
    a, b = _judged(1.0, 0.5), _judged(0.25, 0.25)
    scores = {"a": [1.0, 0.75], "b": [0.625, 0.625]}  # the case's score under each draw
    within = (0.0625 / 4 + 0.0) / 2
    everything = [s for row in scores.values() for s in row]
    mean = sum(everything) / 4
    total = sum((s - mean) ** 2 for s in everything) / 4
    variance = judge_variance([a, b])
    assert variance is not None
    assert variance.within == pytest.approx(within) and variance.total == pytest.approx(total)
    assert variance.judge_share == pytest.approx(within / total)
    assert judge_variance([(Grade("x", True, 1.0, "r"),)]) is None  # one draw: nothing to split
    same_answer = judge_variance([_judged(1.0, 0.5), _judged(1.0, 0.5)])
    assert same_answer is not None and same_answer.judge_share == pytest.approx(1.0)
    pool = pooled([variance, None, same_answer])
    assert pool is not None and pool.judge_share == pytest.approx(
        (variance.within + same_answer.within) / (variance.total + same_answer.total)
    )


def test_judge_draw_zero_keeps_the_keys_of_every_judge_call_before():
    """Values computed by promptvc before judge draws existed: an old cache stays valid."""
    request = ModelRequest(
        "anthropic",
        "https://api.anthropic.com",
        "claude-sonnet-4-6",
        "You grade.",
        (("user", "Rubric: x"),),
        (("max_tokens", 256), ("temperature", 0)),
        sample=1,
    )
    assert request.key == "a1b970b5f42743dc15c684d8bf6151cde6595fc4cfc3c25628bf54afa6df6ac9"
    assert request.ask_key == "39a8570efb8a515ce027bb1ba0017dc836d0e84bb207b86fff2b7c2f3715e3a4"
    again = dataclasses.replace(request, draw=1)
    assert again.key != request.key and again.ask_key != request.ask_key
    assert json.loads(again.as_json())["draw"] == 1 and "draw" not in json.loads(request.as_json())


# -- end to end -----------------------------------------------------------------------------------


def by_turns(*answers_per_question: tuple[str, list[str]]):
    """A model that answers each question from its list in turn (the last answer repeated): samples
    of one case send the same body, so which sample gets which answer varies, but not how many."""
    lists = dict(answers_per_question)
    counters = {q: itertools.count() for q in lists}
    lock = threading.Lock()

    def rule(body) -> str:
        question = last_user_text(body)
        key = next(q for q in lists if q in question)
        with lock:
            turn = next(counters[key])
        answers = lists[key]
        return answers[min(turn, len(answers) - 1)]

    return rule


def _repeat_set(repo, options: str) -> None:
    repo.write("evals/support-answer.yaml", MODEL_GOLDEN.replace("threshold: 0.9", options))


def test_repeat_draws_samples_shows_passes_and_lists_flaky_cases(model_repo, model_server, cli):
    _repeat_set(model_repo, "threshold: 0.5\nrepeat: 3")
    model_server.rule = by_turns(
        ("How long", ["30 days.", "30 days.", "I am not sure, sorry."]),  # 2 of 3: flaky, passes
        ("2 months", ["No, 30 days.", "No, 30 days.", "No, 30 days."]),  # 3 of 3
    )
    code, out, err = cli("eval")
    assert code == 0, err
    assert model_server.calls == 6  # 2 cases × 3 samples, each its own request key
    assert "cases  flaky" in out and " 2/2      1 " in out
    assert "support-answer  ×3 (at least half): 2 of 2 cases passed, 1 flaky" in out
    assert "refund-window  2/3  score 0.67 ±0.47  pass rate (95% CI) 0.21..0.94  flaky" in out
    assert "1 case passed every sample" in out
    assert "FAIL" not in out  # a flaky case that passes by the rule is listed, not failed
    case = db_rows(model_repo, "SELECT * FROM case_scores WHERE case_id = 'refund-window'")[0]
    assert (case["samples"], case["passes"], case["needed"], case["passed"], case["flaky"]) == (
        3,
        2,
        2,
        1,
        1,
    )
    assert (case["pass_low"], case["pass_high"]) == pytest.approx(wilson(2, 3))
    assert case["spread"] == pytest.approx(math.sqrt(2 / 9))
    stored = db_rows(model_repo, "SELECT flaky, samples, score FROM set_scores")[0]
    assert stored["flaky"] == 1 and stored["samples"] == 3
    assert stored["score"] == pytest.approx((2 / 3 + 1) / 2)

    data = json.loads(cli("eval", "--json")[1])["sets"][0]
    assert model_server.calls == 6  # every sample came from the store
    assert (data["repeat"], data["pass_rule"], data["flaky_cases"]) == (
        3,
        "at least half",
        ["refund-window"],
    )
    summary = {c["id"]: c for c in data["case_summaries"]}["refund-window"]
    assert (summary["samples"], summary["passes"], summary["passed"], summary["flaky"]) == (
        3,
        2,
        True,
        True,
    )
    assert summary["spread"] == pytest.approx(math.sqrt(2 / 9))
    assert summary["interval"] == pytest.approx(list(wilson(2, 3)))
    assert len(data["cases"]) == 6  # each sample's own result is still there


def test_pass_all_fails_a_case_that_failed_once(model_repo, model_server, cli, tmp_path):
    _repeat_set(model_repo, "threshold: 0.5\nrepeat: 3\npass_all: true")
    model_server.rule = by_turns(
        ("How long", ["30 days.", "30 days.", "I am not sure, sorry."]),
        ("2 months", ["No, 30 days."]),
    )
    junit = tmp_path / "junit.xml"
    code, out, _ = cli("eval", "--junit", str(junit))
    # The set still passes on its mean (0.83 >= 0.5); the case is reported as failing pass^3.
    assert code == 0
    assert "support-answer/refund-window  FAIL  pass 2/3 (needs 3)  score 0.67" in out
    assert 'contains "30 days": output does not contain' in out
    assert "I am not sure, sorry." in out
    suite = ET.parse(junit).getroot()[0]
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = suite.find("testcase[@name='refund-window']/failure")
    assert failed is not None and failed.get("message", "").startswith("pass 2/3 (needs 3): ")


def test_repeat_on_the_command_line_overrides_the_set(model_repo, model_server, cli):
    _repeat_set(model_repo, "threshold: 0.5\nrepeat: 3")
    model_server.rule = lambda body: "30 days, sorry."
    cli("eval", "--repeat", "2")
    assert model_server.calls == 4
    cli("eval")
    assert model_server.calls == 6  # the third sample of each case only
    code, _, err = cli("eval", "--repeat", "0")
    assert code == 2 and err == "promptvc: --repeat must be from 1 to 100\n"


def test_diff_eval_samples_each_side_as_its_set_says(model_repo, model_server, cli):
    _repeat_set(model_repo, "repeat: 2")
    model_repo.commit("two samples")
    model_server.rule = lambda body: "30 days." if "Be brief" in body["system"] else "sorry"
    model_repo.write("prompts/partials/tone.jinja", "Be brief.\n")
    code, out, err = cli("diff", "--eval", "--json", "HEAD")
    assert code == 0, err
    assert model_server.calls == 8  # 2 cases × 2 samples on each side


JUDGE_SET = """\
prompt: support/answer
provider: anthropic
threshold: 0.5
repeat: 2
judge_repeat: 2
vars: {policy: "Refunds within 30 days."}
cases:
  - id: grounded
    vars: {question: "How long do I have?"}
    assert:
      - {type: llm-rubric, value: "Cites the 30-day policy", min: 4}
"""


def test_judge_repeat_draws_each_grade_and_splits_the_spread(model_repo, model_server, cli):
    model_repo.write("evals/support-answer.yaml", JUDGE_SET)
    answers = by_turns(("How long", ["Answer A", "Answer B"]))
    judged = {"Answer A": itertools.count(), "Answer B": itertools.count()}
    scores = {"Answer A": [5, 3], "Answer B": [2, 2]}
    lock = threading.Lock()

    def rule(body) -> str:
        if "You grade" not in body.get("system", ""):
            return answers(body)
        output = next(o for o in judged if o in last_user_text(body))
        with lock:
            turn = next(judged[output])
        return f"Reasoned.\nScore: {scores[output][turn]}"

    model_server.rule = rule
    code, out, err = cli("eval", "--json")
    assert code == 0, err
    assert model_server.calls == 2 + 4  # two answers, each judged twice
    data = json.loads(out)["sets"][0]
    # Normalised draws: A 1.0 and 0.5, B 0.25 twice. Judge variance (0.0625 + 0) / 2 over the
    # variance of all four, 0.09375: one third of the spread is the judge's.
    assert data["judge_share"] == pytest.approx(1 / 3)
    (case,) = data["case_summaries"]
    assert case["judge_share"] == pytest.approx(1 / 3)
    assert (case["passes"], case["flaky"], case["score"]) == (1, True, pytest.approx(0.5))
    grades = {r["output"]: r["assertions"][0] for r in data["cases"]}
    assert grades["Answer A"]["draws"] == [1.0, 0.5] or grades["Answer A"]["draws"] == [0.5, 1.0]
    assert grades["Answer A"]["reason"].startswith("judge 4/5 (min 4): mean of ")
    assert db_rows(model_repo, "SELECT judge_share FROM set_scores")[0][
        "judge_share"
    ] == pytest.approx(1 / 3)
    cli("eval")
    assert model_server.calls == 6  # every draw was cached under its own key
    text = cli("eval")[1]
    assert "judge share of variance: 0.33" in text


def test_the_plan_draws_each_sets_own_samples_and_counts_the_judges_draws(model_repo):
    model_repo.write("evals/support-answer.yaml", JUDGE_SET)
    golden = goldens(model_repo)["support-answer"]
    plan = plan_eval(renderer(model_repo), [golden], provider=None, default_provider="anthropic")
    assert [(j.sample, len(j.judge_calls)) for j in plan.jobs] == [(0, 2), (1, 2)]
    assert plan.sets[0].samples == 2
    override = plan_eval(
        renderer(model_repo), [golden], provider=None, default_provider="anthropic", repeat=3
    )
    assert [j.sample for j in override.jobs] == [0, 1, 2]
    assert len({j.request.key for j in override.jobs}) == 3


def test_a_grade_with_draws_reads_back_as_it_was_stored():
    grade = Grade("llm-rubric", True, 0.75, "judge", draws=(1.0, 0.5))
    row = _sample("a", 0, 0.75, True, (grade, Grade("contains x", True, 1.0, "ok"))).row()
    again = CaseResult.from_row(row)
    assert again.grades == (grade, Grade("contains x", True, 1.0, "ok"))
    assert "draws" not in json.loads(row["grades"])[1]  # one draw: stored as before
    hash(again)  # results stay hashable values


def test_an_old_database_gets_case_scores_and_keeps_its_set_scores(tmp_path):
    db = tmp_path / "p.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    with conn:  # the schema before m007
        conn.execute("DROP TABLE case_scores")
        conn.execute("ALTER TABLE set_scores DROP COLUMN flaky")
        conn.execute("ALTER TABLE set_scores DROP COLUMN judge_share")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_case_scores'")
        conn.execute("INSERT INTO set_scores (set_key, score) VALUES ('s', 0.5)")
    store = Store(db)
    assert store.set_scores(["s"])["s"]["score"] == 0.5
    assert store.set_scores(["s"])["s"]["flaky"] is None
    assert store.case_scores("s") == {}
