"""Routing with escalation: a prompt's `route` runs the cheap tier first and the next only when a
rule of `escalate_on` fires; each result records the tier that answered, and the set's report
puts the route beside each tier alone."""

from __future__ import annotations

import json

import pytest

from promptvc.evals.assertions import Assertion, Grade
from promptvc.evals.routes import fired
from promptvc.prompts.route import Rule
from tests.helpers import db_rows
from tests.model_server import last_user_text

# Prices that make each call's cost plain: the test server reports 100 input tokens a call, and
# output is free here, so a fast call costs $0.001 and a default one $0.01.
TIERS = """\
fast:    {model: claude-haiku-4-5, max_tokens: 100, price: {input: 10, output: 0}}
default: {model: claude-sonnet-4-6, max_tokens: 200, price: {input: 100, output: 0}}
judge:   {model: claude-judge, max_tokens: 50, temperature: 0}
"""
FAST, DEFAULT = 0.001, 0.01

PROMPT = """\
---
route: [fast, default]
escalate_on:
{rules}
inputs: [question]
---
{{{{ question }}}}
"""

CASES = ["easy one", "easy two", "hard one", "hard two"]


def golden(assertion: str) -> str:
    cases = "\n".join(
        f"  - id: {q.replace(' ', '-')}\n    vars: {{question: {q}}}\n    assert:\n"
        f"      - {assertion}"
        for q in CASES
    )
    return f"prompt: route/answer\nprovider: anthropic\nthreshold: 0.5\ncases:\n{cases}\n"


def answers(fast_hard: str, good: str = "Refunds within 30 days."):
    """The big model always answers well; the fast one answers `fast_hard` to the hard questions."""

    def rule(body: dict) -> str:
        text = last_user_text(body)
        if "Score: N" in (body.get("system") or "") + text:  # the judge
            return "Unsure and vague.\nScore: 2" if "unsure" in text else "Cites it.\nScore: 5"
        if body["model"] == "claude-haiku-4-5" and "hard" in text:
            return fast_hard
        return good

    return rule


@pytest.fixture
def routed(git_repo, model_server):
    def make(rules: str, assertion: str, fast_hard: str, good: str = "Refunds within 30 days."):
        git_repo.write(".gitignore", ".promptvc/\n")
        git_repo.write("prompts/tiers.yaml", TIERS)
        git_repo.write("prompts/route/answer.jinja", PROMPT.format(rules=rules))
        git_repo.write("evals/route.yaml", golden(assertion))
        git_repo.commit("a routed prompt")
        model_server.rule = answers(fast_hard, good)
        return git_repo

    return make


def _models(server) -> list[str]:
    return sorted(
        r["body"]["model"] for r in server.requests if r["body"]["model"] != "claude-judge"
    )


RULE_PATHS = [
    ("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say."),
    ("  - {not-json: true}", "{type: is-json}", "maybe {oops"),
    (
        '  - {pattern: "(?i)not sure|I don\'t know"}',
        '{type: contains, value: "30 days"}',
        "Not sure, but 30 days.",
    ),
    ("  - {judge_below: 3}", '{type: llm-rubric, value: "Cites the policy", min: 2}', "unsure"),
]


@pytest.mark.parametrize(("rules", "assertion", "fast_hard"), RULE_PATHS)
def test_each_rule_kind_escalates_the_cases_it_fires_on_and_only_those(
    routed, model_server, cli, rules, assertion, fast_hard
):
    good = '{"answer": "30 days"}' if "is-json" in assertion else "Refunds within 30 days."
    repo = routed(rules, assertion, fast_hard, good)
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    # Every case asks the fast tier; only the two hard ones go on to the default tier.
    assert _models(model_server) == ["claude-haiku-4-5"] * 4 + ["claude-sonnet-4-6"] * 2
    stored = {
        r["case_id"]: (r["tier"], r["model"])
        for r in db_rows(repo, "SELECT case_id, tier, model FROM results")
    }
    assert stored == {
        "easy-one": ("fast", "claude-haiku-4-5-20990101"),
        "easy-two": ("fast", "claude-haiku-4-5-20990101"),
        "hard-one": ("default", "claude-sonnet-4-6-20990101"),
        "hard-two": ("default", "claude-sonnet-4-6-20990101"),
    }
    [result] = json.loads(out)["sets"]
    assert result["score"] == 1.0
    hard = next(c for c in result["cases"] if c["id"] == "hard-one")
    assert [t["tier"] for t in hard["tiers"]] == ["fast", "default"]
    assert hard["tiers"][0]["escalated"] == Rule(*_rule_of(rules)).describe()


def _rule_of(rules: str) -> tuple:
    import yaml

    ((kind, value),) = yaml.safe_load(rules)[0].items()
    return kind, float(value) if kind == "judge_below" else value


def test_the_report_puts_the_route_beside_each_tier_alone(routed, model_server, cli):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    route = json.loads(out)["sets"][0]["route"]
    assert route["route"] == ["fast", "default"] and route["escalated"] == 2
    assert route["routed"]["score"] == 1.0
    # Each case paid its fast call, and the hard ones their default call too.
    assert route["routed"]["cost"] == pytest.approx((4 * FAST + 2 * DEFAULT) / 4)
    fast, default = route["alone"]
    assert fast == {"name": "fast", "score": 0.5, "cost": pytest.approx(FAST), "missing": 0}
    # The easy cases never asked the default tier: alone it is not reported, not guessed.
    assert default["score"] is None and default["missing"] == 2

    code, out, err = cli("eval")
    assert code == 0 and _models(model_server).count("claude-sonnet-4-6") == 2
    line = next(x for x in out.splitlines() if "route fast→default" in x)
    assert "route fast→default: 1.00 at $0.006/case (2 of 4 cases escalated)" in line
    assert "fast alone 0.50 at $0.001/case" in line
    assert "default alone: 2 of 4 not answered (eval --each-tier asks them)" in line

    # --each-tier asks the default tier for the two easy cases (and nothing else), and stores it.
    model_server.reset()
    code, out, err = cli("eval", "--each-tier")
    assert code == 0, out + err
    assert _models(model_server) == ["claude-sonnet-4-6"] * 2
    assert "default alone 1.00 at $0.01/case" in out
    # A plain re-run reuses the stored results, their tiers alone included: no call.
    model_server.reset()
    code, out, _ = cli("eval", "--json")
    assert code == 0 and model_server.calls == 0
    route = json.loads(out)["sets"][0]["route"]
    assert route["alone"][1] == {
        "name": "default",
        "score": 1.0,
        "cost": pytest.approx(DEFAULT),
        "missing": 0,
    }
    tiers = db_rows(repo, "SELECT tier, count(*) AS n FROM results GROUP BY tier ORDER BY tier")
    assert tiers == [{"tier": "default", "n": 2}, {"tier": "fast", "n": 2}]


def test_a_later_tier_answered_before_is_reported_alone_without_a_call(routed, model_server, cli):
    """Tiers alone come from the same cached responses: once a default answer is recorded (here by
    a route that escalated everything), a route that escalates less reports it for free."""
    repo = routed("  - {assert: contains}", '{type: contains, value: "never"}', "x")
    assert cli("eval")[0] == 1  # every case fails at both tiers: all escalate
    assert _models(model_server).count("claude-sonnet-4-6") == 4
    repo.write("evals/route.yaml", golden('{type: contains, value: "30 days"}'))
    model_server.reset()
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    assert model_server.calls == 0  # the golden file changed, the requests did not
    route = json.loads(out)["sets"][0]["route"]
    assert route["escalated"] == 2 and route["alone"][1]["missing"] == 0


def test_the_second_tier_is_part_of_the_set_key(routed, model_server, cli):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    assert cli("eval")[0] == 0
    before = {r["set_key"] for r in db_rows(repo, "SELECT set_key FROM results")}
    repo.write("prompts/tiers.yaml", TIERS.replace("max_tokens: 200", "max_tokens: 300"))
    model_server.reset()
    assert cli("eval")[0] == 0
    after = {r["set_key"] for r in db_rows(repo, "SELECT set_key FROM results")} - before
    assert len(after) == 1
    # The fast answers are cached (same request); the escalations are new requests.
    assert _models(model_server) == ["claude-sonnet-4-6"] * 2
    code, out, _ = cli("diff", "--name-only")
    assert code == 0 and "route/answer" in out


@pytest.mark.parametrize(
    ("front", "cause"),
    [
        (
            "route: [fast, premium]\nescalate_on:\n  - {not-json: true}",
            "route names unknown tier 'premium'",
        ),
        (
            "route: [fast, default]\nescalate_on:\n  - {assert: icontains}",
            "escalate_on names assertion 'icontains', which no case of golden set route has",
        ),
        (
            'route: [fast, default]\nescalate_on:\n  - {pattern: "(unclosed"}',
            "escalate_on: pattern '(unclosed' is not a regular expression",
        ),
        (
            "route: [fast, default]\nescalate_on:\n  - {judge_below: 3}",
            "escalate_on has judge_below, but no case of golden set route is judged",
        ),
        ("tier: fast\nroute: [fast, default]\nescalate_on:\n  - {not-json: true}", "not both"),
        ("route: [fast, default]", "a route needs 'escalate_on'"),
        ("route: [fast]\nescalate_on:\n  - {not-json: true}", "two or more different tier"),
        ("route: [fast, default]\nescalate_on:\n  - {unsure: true}", "unknown rule 'unsure'"),
    ],
)
def test_a_bad_route_is_one_line_naming_the_prompt_file(git_repo, cli, front, cause):
    git_repo.write(".gitignore", ".promptvc/\n")
    git_repo.write("prompts/tiers.yaml", TIERS)
    git_repo.write("prompts/route/answer.jinja", f"---\n{front}\n---\n{{{{ question }}}}\n")
    git_repo.write("evals/route.yaml", golden('{type: contains, value: "30 days"}'))
    code, out, err = cli("eval")
    assert code == 2, out + err
    [line] = err.strip().splitlines()
    assert "prompts/route/answer.jinja:" in line and cause in line
    assert "Traceback" not in err


def _grade(passed: bool, score: float = 1.0) -> Grade:
    return Grade("x", passed, score, "")


def test_fired_names_the_first_rule_that_fires():
    contains = Assertion("contains", False, "30 days")
    negated = Assertion("contains", True, "sorry", metric="polite")
    rubric = Assertion("llm-rubric", False, "cites it")
    asserts = [contains, negated, rubric]
    ok = [_grade(True), _grade(True), _grade(True, 0.75)]  # the judge's 4 of 5
    rules = [Rule("assert", "not-contains"), Rule("judge_below", 4.0)]
    assert fired(rules, asserts, ok, "fine") is None
    assert fired(rules, asserts, [_grade(True), _grade(False), ok[2]], "") == rules[0]
    by_metric = [Rule("assert", "polite")]
    assert fired(by_metric, asserts, [_grade(True), _grade(False), ok[2]], "") == by_metric[0]
    assert fired(rules, asserts, [*ok[:2], _grade(False, 0.5)], "") == rules[1]  # 3 < 4
    assert fired([Rule("not-json", True)], [], [], '{"a": 1}') is None
    assert fired([Rule("not-json", True)], [], [], "{a: 1}") is not None
    assert fired([Rule("pattern", "(?i)not sure")], [], [], "I'm NOT SURE") is not None


def test_the_runtime_request_carries_the_route(git_repo):
    import promptvc

    git_repo.write("prompts/tiers.yaml", TIERS)
    git_repo.write("prompts/route/answer.jinja", PROMPT.format(rules="  - {not-json: true}"))
    git_repo.commit("a routed prompt")
    request = promptvc.load(str(git_repo.root)).render("route/answer", question="hi")
    assert request.provenance.route == ("fast", "default")
    assert request.provenance.tier == "fast" and request.model == "claude-haiku-4-5"


def test_render_shows_the_route_and_the_schema_describes_it(routed, cli):
    import jsonschema
    import yaml

    from promptvc.commands.schema import schema_text

    routed("  - {not-json: true}\n  - {judge_below: 3}", "{type: is-json}", "x")
    code, out, err = cli("render", "route/answer", "--var", "question=hi")
    assert code == 0, err
    assert "tier fast" in out
    assert "route           fast→default   (escalates when: not JSON, judge below 3)" in out
    code, out, _ = cli("render", "route/answer", "--var", "question=hi", "--json")
    assert json.loads(out)["route"] == {
        "tiers": ["fast", "default"],
        "escalate_on": [{"not-json": True}, {"judge_below": 3.0}],
    }
    schema = json.loads(schema_text("prompt-front-matter"))
    front = yaml.safe_load(
        PROMPT.format(rules='  - {assert: is-json}\n  - {pattern: "(?i)not sure"}').split("---")[1]
    )
    jsonschema.validate(front, schema)
    for bad in (
        {**front, "tier": "fast"},
        {"route": ["fast", "default"]},
        {**front, "escalate_on": [{"unsure": True}]},
        {**front, "escalate_on": [{"judge_below": 9}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_resampled_cases_ask_every_tier_at_the_new_sample(routed):
    from promptvc.evaluation.plan import plan_eval, resample
    from tests.helpers import goldens, renderer

    repo = routed("  - {not-json: true}", "{type: is-json}", "x")
    plan = plan_eval(
        renderer(repo), list(goldens(repo).values()), provider=None, default_provider="anthropic"
    )
    [set_plan] = plan.sets
    [job] = resample(set_plan, ["hard-one"], range(2, 3)).jobs
    assert job.route is not None and job.route.steps[0].request is job.request
    assert [s.request.sample for s in job.route.steps] == [2, 2]
    assert [s.request.model for s in job.route.steps] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert job.route.steps[1].request.payload()["max_tokens"] == 200


def test_check_blocks_a_rule_change_that_stops_the_escalations_the_cases_needed(
    routed, model_server, cli
):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    repo.write("prompts/route/answer.jinja", PROMPT.format(rules='  - {pattern: "never"}'))
    repo.stage()
    code, out, err = cli("check")
    assert code == 1, out + err
    assert "blocked:" in out and "2 cases regressed" in out
    # The base side escalated the hard cases; the staged side answered them at the fast tier.
    hard = [
        r["body"]["model"] for r in model_server.requests if "hard" in last_user_text(r["body"])
    ]
    assert "claude-sonnet-4-6" in hard
    staged = db_rows(repo, "SELECT DISTINCT tier FROM results WHERE case_id LIKE 'hard%'")
    assert {r["tier"] for r in staged} == {"fast", "default"}


def test_a_bundle_refuses_a_route_through_an_unknown_tier(git_repo, cli, tmp_path):
    git_repo.write("prompts/tiers.yaml", TIERS)
    rules = "  - {not-json: true}"
    git_repo.write(
        "prompts/route/answer.jinja", PROMPT.format(rules=rules).replace("default]", "big]")
    )
    git_repo.commit("a route through a tier that does not exist")
    code, out, err = cli("bundle", "-o", str(tmp_path / "prompts.bundle.json"))
    assert code == 2, out + err
    assert "prompts/route/answer.jinja:2: route names unknown tier 'big'" in err


# -- which tier answered, in log and the TUI ---------------------------------------------


def test_log_names_the_route_and_how_many_cases_escalated(routed, model_server, cli):
    routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    assert cli("eval")[0] == 0
    code, out, err = cli("log")
    assert code == 0, out + err
    line = next(x for x in out.splitlines() if x.strip().startswith("route"))
    assert "route fast→default: 2 of 4 escalated" in line
    code, out, err = cli("log", "--json")
    assert code == 0, out + err
    [point] = json.loads(out)
    [scored] = point["sets"]
    assert scored["route"] == {"route": ["fast", "default"], "cases": 4, "escalated": 2}


def test_log_shows_no_route_for_a_prompt_with_a_tier(support_repo, cli):
    assert cli("eval")[0] == 0
    code, out, _ = cli("log", "--json")
    assert code == 0 and all(s["route"] is None for p in json.loads(out) for s in p["sets"])
    assert "escalated" not in cli("log")[1]


def test_the_tui_shows_the_route_per_set_and_the_answering_tier_per_case(routed, model_server, cli):
    import asyncio

    from textual.widgets import Static

    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser
    from promptvc.tui.screens import CaseScreen, SetScreen
    from promptvc.workspace import Workspace

    routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    assert cli("eval")[0] == 0

    async def scenario():
        app = PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.pause()
            figures = str(app.query_one("#flips", Static).render())
            assert "route  route fast→default: 2 of 4 escalated" in figures
            await pilot.press("enter", "enter")  # commit -> sets -> cases
            assert isinstance(app.screen, SetScreen)
            [easy, hard] = [
                next(c for c in app.screen.cases if c.case_id == name)
                for name in ("easy-one", "hard-one")
            ]
            notes = {}
            for case in (easy, hard):
                app.push_screen(CaseScreen("route", case))
                await pilot.pause()
                notes[case.case_id] = " ".join(str(w.render()) for w in app.screen.query(Static))
                app.pop_screen()
            assert "answered by fast" in notes["easy-one"]
            assert "answered by default (fast: contains failed)" in notes["hard-one"]

    asyncio.run(scenario())


# -- the diff names the route ----------------------------------------------------------------


def test_diff_names_the_route_and_a_change_of_it_as_config(routed, cli):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    repo.write("prompts/tiers.yaml", TIERS + "big: {model: claude-opus-4-6, max_tokens: 100}\n")
    repo.commit("a bigger tier")
    rules = '  - {assert: contains}\n  - {pattern: "(?i)not sure"}'
    repo.write(
        "prompts/route/answer.jinja",
        PROMPT.format(rules=rules).replace("[fast, default]", "[fast, big]"),
    )
    code, out, err = cli("diff")
    assert code == 0, out + err
    head = next(x for x in out.splitlines() if x.startswith("prompts/route/answer.jinja"))
    assert "route fast→default" not in head and "route fast→big · claude-haiku-4-5" in head
    assert "tier fast" not in head
    config = [x for x in out.splitlines() if "(front matter)" in x]
    assert any("route  fast→default → fast→big" in x for x in config), out
    assert any(
        "escalate_on  contains failed → contains failed; matches /(?i)not sure/" in x
        for x in config
    ), out
    code, out, _ = cli("diff", "--json")
    [prompt] = json.loads(out)["prompts"]
    assert prompt["route"] == "fast→big" and prompt["tier"] == "fast"
    assert {c["key"] for c in prompt["config"]} == {"route", "escalate_on"}


# -- --each-tier in check and diff --eval ------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ("diff", "--eval", "--staged")])
def test_check_and_diff_eval_pass_each_tier_through_for_the_new_side(
    routed, model_server, cli, command
):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    rules = '  - {assert: contains}\n  - {pattern: "(?i)not sure"}'
    repo.write("prompts/route/answer.jinja", PROMPT.format(rules=rules))
    repo.stage()
    code, out, err = cli(*command)
    assert code == 0, out + err
    assert "default alone: 2 of 4 not answered" in out
    easy = [
        r["body"]["model"] for r in model_server.requests if "easy" in last_user_text(r["body"])
    ]
    assert "claude-sonnet-4-6" not in easy
    model_server.reset()
    code, out, err = cli(*command, "--each-tier")
    assert code == 0, out + err
    # Only the new side's easy cases ask the default tier: the base side is reused as it was.
    assert _models(model_server) == ["claude-sonnet-4-6"] * 2
    line = next(x for x in out.splitlines() if "route fast→default:" in x)
    assert "default alone 1.00 at $0.01/case" in line


def test_each_tier_on_a_plain_diff_is_a_usage_error(routed, cli):
    routed("  - {not-json: true}", "{type: is-json}", "x")
    code, _, err = cli("diff", "--each-tier")
    assert code == 2 and "--each-tier goes with --eval" in err


# -- --batch with a route -------------------------------------------------------------------------


def test_batch_sends_the_first_tier_in_the_batch_and_escalations_one_by_one_after(
    routed, model_server, cli, monkeypatch
):
    from promptvc.evaluation import batching

    quick = batching.Polling(first=0.01, cap=0.02)
    monkeypatch.setattr(batching, "default_polling", lambda: quick)
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    model_server.batch_delay = 0.03
    code, out, err = cli("eval", "--batch", "--json")
    assert code == 0, out + err
    # One batch with every case's first-tier request; nothing of the first tier sent alone.
    assert model_server.batch_creates == 1
    [create] = [r for r in model_server.requests if r["path"] == "/v1/messages/batches"]
    assert [r["params"]["model"] for r in create["body"]["requests"]] == ["claude-haiku-4-5"] * 4
    # The escalations depend on the batch's answers: sent after it ended, one by one.
    posts = [i for i, r in enumerate(model_server.requests) if r["path"] == "/v1/messages"]
    assert [model_server.requests[i]["body"]["model"] for i in posts] == ["claude-sonnet-4-6"] * 2
    last_look = max(
        i for i, r in enumerate(model_server.requests) if r["path"].endswith("/results")
    )
    assert min(posts) > last_look
    stored = {r["case_id"]: r["tier"] for r in db_rows(repo, "SELECT case_id, tier FROM results")}
    assert stored == {
        "easy-one": "fast",
        "easy-two": "fast",
        "hard-one": "default",
        "hard-two": "default",
    }
    sources = db_rows(repo, "SELECT model, source FROM responses ORDER BY model")
    assert {(r["model"], r["source"]) for r in sources} == {
        ("claude-haiku-4-5", "batch"),
        ("claude-sonnet-4-6", "live"),
    }
    # The batch's half price on the first tier, the full price on the escalations.
    route = json.loads(out)["sets"][0]["route"]
    assert route["routed"]["cost"] == pytest.approx((4 * FAST * 0.5 + 2 * DEFAULT) / 4)
    assert json.loads(out)["cost"] == pytest.approx(4 * FAST * 0.5 + 2 * DEFAULT)


# -- --dry-run says escalations are not counted -------------------------------------------------


def test_dry_run_counts_the_first_tier_and_names_the_escalation_rate_it_saw(
    routed, model_server, cli
):
    repo = routed("  - {assert: contains}", '{type: contains, value: "30 days"}', "I cannot say.")
    code, out, err = cli("eval", "--dry-run", "--json")
    assert code == 0, out + err
    [estimate] = json.loads(out)["sets"]
    assert estimate["requests"] == 4  # the first tier's, one a case
    assert estimate["escalations"] == {"counted": False, "route": "fast→default", "last_run": None}
    code, out, _ = cli("eval", "--dry-run")
    assert (
        "route: only the first tier's calls of route fast→default; escalations are not counted\n"
        in out.replace("\n ", " ")
    )
    assert not [r for r in model_server.requests if r["path"] == "/v1/messages"]

    assert cli("eval")[0] == 0
    code, out, _ = cli("eval", "--dry-run")
    assert code == 0 and "escalations are not counted (≈ 2 of 4 escalated last run)" in out
    # Another version of the set: its last completed run's rate is the guide, said as such.
    repo.write(
        "prompts/route/answer.jinja", PROMPT.format(rules="  - {assert: contains}") + "Be brief.\n"
    )
    code, out, err = cli("eval", "--dry-run", "--json")
    assert code == 0, out + err
    [estimate] = json.loads(out)["sets"]
    assert estimate["requests"] == 4
    assert estimate["escalations"]["last_run"] == {"cases": 4, "escalated": 2, "same_key": False}
    code, out, _ = cli("eval", "--dry-run")
    assert "(≈ 2 of 4 escalated in the set's last completed run)" in out.replace("\n", " ")
