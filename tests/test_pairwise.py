"""The pairwise judge for diffs (`llm-compare`): graded only where two snapshots are compared, the
judge asked twice with the outputs in both orders, ties for inconsistent answers and identical
outputs, every answer cached, a sign test per set, and a gate that blocks on a significant loss."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from promptvc.evals.pairwise import (
    PairVerdict,
    Preference,
    summarise_pairs,
    verdict_of,
)
from promptvc.prompts.judge import parse_winner
from tests.model_server import last_user_text

CRITERION = "more accurate and more helpful"
CASES = 6


def golden(cases: int = CASES, extra: str = "") -> str:
    lines = [
        "prompt: support/answer",
        "provider: anthropic",
        "threshold: 0.5",
        'vars: {policy: "Refunds are accepted within 30 days of delivery."}',
        "assert:",
        f'  - {{type: llm-compare, value: "{CRITERION}"}}',
        "cases:",
    ]
    lines += [f'  - {{id: q{i}, vars: {{question: "Question {i}?"}}}}' for i in range(1, cases + 1)]
    return "\n".join(lines) + "\n" + extra


def tone(body: dict) -> str:
    return "vague" if "Be vague." in body.get("system", "") else "warm"


def shown(body: dict) -> tuple[str, str]:
    """The two outputs a pairwise judge request shows, in their order."""
    text = last_user_text(body)
    first = re.search(r"<output-1>\n(.*)\n</output-1>", text, re.S)
    second = re.search(r"<output-2>\n(.*)\n</output-2>", text, re.S)
    assert first and second, text
    return first[1], second[1]


def is_judge(body: dict) -> bool:
    return body.get("system", "").startswith("You compare two outputs")


def judge_requests(server) -> list[dict]:
    return [r["body"] for r in server.requests if is_judge(r["body"])]


def scripted(quality: dict[tuple[str, str], str], judge=None, tone_free=()):
    """The model answers each case at the quality the table gives its tone ("good" or "poor"),
    the cases in `tone_free` the same whatever the tone; the judge prefers a good answer to a
    poor one, and calls two of a kind a tie."""

    def prefer(body: dict) -> str:
        first, second = (text.split()[0] for text in shown(body))
        if first == second:
            return "Both are alike.\nWinner: tie"
        return "One is better.\nWinner: " + ("1" if first == "good" else "2")

    def rule(body: dict) -> str:
        if is_judge(body):
            return (judge or prefer)(body)
        question = last_user_text(body)
        case = question.split()[-1].rstrip("?")
        if case in tone_free:
            return f"good answer to {question}"
        level = quality.get((tone(body), case), "good")
        return f"{level} answer to {question} ({tone(body)})"

    return rule


@pytest.fixture
def compared(support_repo, model_server):
    """The support prompt, with a golden set graded only by the pairwise judge, committed."""
    support_repo.write("evals/support-answer.yaml", golden())
    support_repo.commit("compare the answers")
    return support_repo


def stage_vague_tone(repo) -> None:
    repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    repo.stage()


# -- the pure parts ---------------------------------------------------------------------------


def test_the_winner_line_is_parsed_strictly():
    assert parse_winner("Output 2 cites the policy.\nWinner: 2") == "2"
    assert parse_winner("Reason.\n  winner: TIE  \n") == "tie"
    assert parse_winner("Winner: 1") == "1"
    for reply in ("Winner: 3", "Winner: 1 or 2", "The winner: 1", "Winner: 1\nThanks!", "", "2"):
        assert parse_winner(reply) is None, reply


def test_the_two_orders_are_read_from_the_heads_side():
    """Base shown first, then head shown first: `2` then `1` both mean the head."""
    assert verdict_of("Winner: 2", "Winner: 1") == PairVerdict(Preference.WIN)
    assert verdict_of("Winner: 1", "Winner: 2") == PairVerdict(Preference.LOSS)
    assert verdict_of("Winner: tie", "Winner: tie") == PairVerdict(Preference.TIE)
    # a judge that always picks the first output disagrees with itself: a tie
    assert verdict_of("Winner: 1", "Winner: 1") == PairVerdict(Preference.TIE, inconsistent=True)
    assert verdict_of("Winner: 2", "Winner: tie") == PairVerdict(Preference.TIE, inconsistent=True)
    assert verdict_of("Winner: 2", "no idea") == PairVerdict(Preference.TIE, unparsed="no idea")


def test_the_tally_counts_a_tie_as_half_a_win_and_the_sign_test_leaves_ties_out():
    verdicts = (
        [PairVerdict(Preference.WIN)] * 3
        + [PairVerdict(Preference.TIE)] * 12
        + [PairVerdict(Preference.TIE, inconsistent=True)] * 2
        + [PairVerdict(Preference.LOSS)] * 9
        + [PairVerdict(None, unjudged="no recording")]
    )
    o = summarise_pairs("s", CRITERION, verdicts)
    assert (o.wins, o.ties, o.losses, o.inconsistent, o.unjudged) == (3, 14, 9, 2, 1)
    assert o.pairs == 26 and o.win_rate == pytest.approx(10 / 26)
    wilson = binomtest(10, 26).proportion_ci(method="wilson")
    assert o.interval == pytest.approx((wilson.low, wilson.high))
    assert o.p == pytest.approx(binomtest(9, 12, alternative="greater").pvalue)
    assert o.note == "no recording"
    nothing = summarise_pairs("s", CRITERION, [])
    assert nothing.win_rate is None and nothing.interval is None and nothing.p == 1.0


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_the_sign_test_is_scipys_binomial_test(wins, ties, losses):
    verdicts = [
        PairVerdict(p)
        for p, n in zip(Preference, (wins, ties, losses), strict=True)
        for _ in range(n)
    ]
    o = summarise_pairs("s", CRITERION, verdicts)
    expected = (
        binomtest(losses, wins + losses, alternative="greater").pvalue if wins + losses else 1
    )
    assert o.p == pytest.approx(expected)
    if o.win_rate is not None and o.interval is not None:
        assert o.interval[0] - 1e-9 <= o.win_rate <= o.interval[1] + 1e-9


# -- against the Messages-API server ----------------------------------------------------------


def test_plain_eval_reports_llm_compare_skipped_and_leaves_it_out_of_the_score(
    support_repo, model_server, cli
):
    support_repo.write(
        "evals/support-answer.yaml",
        golden(2).replace(
            '  - {id: q1, vars: {question: "Question 1?"}}',
            '  - {id: q1, vars: {question: "Question 1?"}, assert: [{type: contains, value: good}]}',
        ),
    )
    model_server.rule = scripted({})
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    [data] = json.loads(out)["sets"]
    q1, q2 = data["cases"]
    assert (q1["status"], q1["score"]) == ("passed", 1.0)  # graded on `contains` alone
    skipped = {
        "label": f'llm-compare "{CRITERION}"',
        "passed": True,
        "score": 1.0,
        "reason": "skipped: llm-compare is graded only when two snapshots are compared (diff --eval, check)",
        "weight": 0.0,
        "skipped": True,
    }
    assert q1["assertions"][0] == skipped  # the set-level assertion, then the case's own
    # a case whose only assertions are llm-compare: skipped with the reason, not an error or a pass
    assert (q2["status"], q2["score"]) == ("skipped", None)
    assert q2["error"] == skipped["reason"].removeprefix("skipped: ")
    assert (data["status"], data["score"], data["skipped"]) == ("passed", 1.0, 1)
    assert not judge_requests(model_server)  # one output alone is never sent to the pairwise judge

    code, out, err = cli("eval", "--strict")  # not a case a model failed to check
    assert code == 0, out + err
    assert (
        "support-answer: 1 skipped (q2): llm-compare is graded only when two snapshots are "
        "compared (diff --eval, check)" in out
    )


@pytest.mark.parametrize(
    ("assertion", "message"),
    [
        (
            "{type: not-llm-compare, value: shorter}",
            "case 'q1': llm-compare cannot be negated: say the opposite in its criterion",
        ),
        (
            "{type: llm-compare}",
            "case 'q1': llm-compare: value must be the criterion, e.g. \"more accurate and more helpful\"",
        ),
    ],
)
def test_a_malformed_llm_compare_is_one_line_with_its_place(support_repo, cli, assertion, message):
    support_repo.write(
        "evals/support-answer.yaml",
        "prompt: support/answer\ncases:\n  - id: q1\n    vars: {question: q, policy: p}\n"
        f"    assert:\n      - {assertion}\n",
    )
    code, _out, err = cli("eval", "--provider", "echo")
    assert code == 2
    assert err.strip() == f"promptvc: evals/support-answer.yaml:6: {message}"


def test_check_asks_twice_in_both_orders_and_blocks_a_significant_loss(compared, model_server, cli):
    model_server.rule = scripted({("vague", str(i)): "poor" for i in range(1, CASES + 1)})
    stage_vague_tone(compared)
    code, out, err = cli("check")
    assert code == 1, out + err
    line = (
        f"    pairwise ({CRITERION}): 0 wins · 0 ties · 6 losses  win rate 0.00 "
        "(95% CI 0.00..0.39)  p=0.02"
    )
    assert line in out.splitlines()
    assert (
        f"blocked: support-answer lost on '{CRITERION}' (0 wins, 6 losses, p=0.02 < alpha 0.05)"
        in out
    )
    assert "nothing was evaluated" not in out
    asked = [shown(body) for body in judge_requests(model_server)]
    assert len(asked) == 2 * CASES
    for i in range(1, CASES + 1):
        base = f"good answer to Question {i}? (warm)"
        head = f"poor answer to Question {i}? (vague)"
        assert sorted(pair for pair in asked if f"Question {i}?" in pair[0]) == [
            (base, head),
            (head, base),
        ]
    judge = judge_requests(model_server)[0]
    assert (judge["model"], judge["max_tokens"], judge["temperature"]) == (
        "claude-sonnet-4-6",
        256,
        0,
    )
    assert f"Criterion: which output is {CRITERION}?" in last_user_text(judge)

    model_server.reset()  # the same check again: every answer, the judge's included, is cached
    code, again, _ = cli("check")
    assert code == 1 and line in again.splitlines()
    assert model_server.calls == 0


def test_an_insignificant_loss_is_shown_and_allowed(compared, model_server, cli):
    """The head loses 2 and wins 1 of 3 pairs that differ: p = 0.5, no block."""
    quality = {("vague", "1"): "poor", ("vague", "2"): "poor", ("warm", "3"): "poor"}
    model_server.rule = scripted(quality)
    stage_vague_tone(compared)
    code, out, err = cli("check")
    assert code == 0, out + err
    assert (
        f"    pairwise ({CRITERION}): 1 win · 3 ties · 2 losses  win rate 0.42 "
        "(95% CI 0.14..0.76)  p=0.50" in out.splitlines()
    )
    assert "allowed" in out


def test_inconsistent_answers_are_ties_and_identical_outputs_are_not_sent(
    compared, model_server, cli
):
    """A judge that always picks the first output it is shown; cases q5 and q6 answer the same
    whatever the tone, so their pairs are ties without a call."""

    def always_first(body):
        return "The first one.\nWinner: 1"

    rule = scripted({("vague", "1"): "poor"}, always_first, tone_free=("5", "6"))
    model_server.rule = rule
    stage_vague_tone(compared)
    code, out, err = cli("check")
    assert code == 0, out + err
    assert (
        f"    pairwise ({CRITERION}): 0 wins · 6 ties · 0 losses  win rate 0.50 "
        "(95% CI 0.19..0.81)  p=1.00  (4 inconsistent: counted as ties)" in out.splitlines()
    )
    asked = {pair for body in judge_requests(model_server) for pair in [shown(body)]}
    assert len(asked) == 8 and not any("Question 5" in a or "Question 6" in a for a, _ in asked)


def test_a_reply_without_a_winner_is_a_reported_tie_and_is_asked_again(compared, model_server, cli):
    model_server.rule = scripted({("vague", "1"): "poor"}, lambda body: "Hard to say.")
    stage_vague_tone(compared)
    code, out, err = cli("check")
    assert code == 0, out + err
    assert (
        f"    pairwise ({CRITERION}): 0 wins · 6 ties · 0 losses  win rate 0.50 "
        "(95% CI 0.19..0.81)  p=1.00  (6 unparsed: counted as ties)  a reply without a 'Winner:' "
        "line: 'Hard to say.'" in out.splitlines()
    )
    model_server.reset()
    cli("check")
    assert len(judge_requests(model_server)) == 2 * CASES  # never cached: asked again
    assert model_server.calls == 2 * CASES


def test_the_spend_cap_counts_the_pairwise_judges_calls(compared, model_server, cli):
    """Both sides unknown: a model call per case and side, and two judge calls per case; once
    everything is stored and cached, nothing."""
    from promptvc.evaluation.both import plan_both, spend
    from promptvc.git.snapshot import INDEX
    from promptvc.store import Store
    from promptvc.workspace import Workspace

    model_server.rule = scripted({("vague", "1"): "poor"}, tone_free=("5", "6"))
    stage_vague_tone(compared)
    ws = Workspace.open()

    def requests_needed() -> int:
        store = Store(ws.db_path)
        try:
            return spend(store, plan_both(ws, ws.resolve("HEAD"), INDEX)).requests
        finally:
            store.close()

    assert requests_needed() == 2 * CASES + 2 * CASES
    cli("eval", "--rev", "HEAD")  # the base's answers are stored, the judge's still unknown
    assert requests_needed() == CASES + 2 * CASES
    cli("eval", "--staged")  # both outputs known: only the pairs that differ, both orders
    assert requests_needed() == 2 * (CASES - 2)
    assert not judge_requests(model_server)
    code, out, err = cli("check")
    assert code == 0, out + err
    assert len(judge_requests(model_server)) == 2 * (CASES - 2)
    assert requests_needed() == 0


def test_a_custom_judge_compare_prompt_gets_the_criterion_both_outputs_and_the_vars(
    compared, model_server, cli
):
    compared.write(
        "prompts/judge-compare.jinja",
        """\
        ---
        tier: judge
        max_tokens: 64
        ---
        system:
        Compare for {{ question }}
        user:
        Which is {{ criterion }}?
        <output-1>
        {{ first }}
        </output-1>
        <output-2>
        {{ second }}
        </output-2>
        """,
    )
    compared.commit("our own pairwise judge")

    def prefer_good(body):
        first, second = (text.split()[0] for text in shown(body))
        return "Winner: tie" if first == second else f"Winner: {1 if first == 'good' else 2}"

    quality = {("vague", str(i)): "poor" for i in range(1, CASES + 1)}
    base = scripted(quality, prefer_good)
    model_server.rule = lambda body: (
        prefer_good(body) if body.get("system", "").startswith("Compare for") else base(body)
    )
    stage_vague_tone(compared)
    code, out, _ = cli("diff", "--staged", "--eval")
    assert code == 0
    assert f"pairwise ({CRITERION}): 0 wins · 0 ties · 6 losses" in out
    judged = [r["body"] for r in model_server.requests if r["body"].get("max_tokens") == 64]
    assert len(judged) == 2 * CASES
    assert {j["system"] for j in judged} == {f"Compare for Question {i}?" for i in range(1, 7)}
    assert all(last_user_text(j).startswith(f"Which is {CRITERION}?") for j in judged)
    assert judged[0]["model"] == "claude-sonnet-4-6"  # the judge tier

    code, out, _ = cli("diff", "--staged", "--eval", "--json")
    [data] = json.loads(out)["sets"]
    [pairwise] = data["pairwise"]
    assert (pairwise["criterion"], pairwise["losses"], pairwise["wins"]) == (CRITERION, 6, 0)
    assert pairwise["p"] == pytest.approx(1 / 64)


def test_the_pairwise_judge_is_no_prompt_of_its_own(support_repo, cli):
    support_repo.write(
        "prompts/judge-compare.jinja", "{{ criterion }}: {{ first }} or {{ second }}\n"
    )
    support_repo.stage()
    code, out, _ = cli("diff", "--staged")
    assert code == 0 and "no prompt changes" in out and "judge-compare" not in out


def test_alpha_is_the_gates_level_and_is_validated(compared, model_server, cli):
    model_server.rule = scripted({("vague", str(i)): "poor" for i in range(1, CASES + 1)})
    stage_vague_tone(compared)
    compared.write("promptvc.toml", "[gate]\nalpha = 0.01\n")
    code, out, err = cli("check")
    assert code == 0, out + err  # p = 1/64 is not below 0.01
    assert "p=0.02" in out and "allowed" in out
    compared.write("promptvc.toml", "[gate]\nmax_drop = 0.05\nalpha = 1\n")
    code, _out, err = cli("check")
    assert code == 2
    assert err.strip() == (
        "promptvc: promptvc.toml:3: [gate] alpha must be a number between 0 and 1, not 1"
    )


def test_pairs_no_judge_answered_are_the_offline_policys_business(
    compared, model_server, cli, monkeypatch
):
    """The answers are recorded, the pairwise judge's are not: without a key, replay leaves the
    pairs unjudged; a warning by default, a block with `offline = "block"`."""
    model_server.rule = scripted({("vague", str(i)): "poor" for i in range(1, CASES + 1)})
    stage_vague_tone(compared)
    assert cli("eval", "--rev", "HEAD")[0] == 0
    assert cli("eval", "--staged")[0] == 0
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, err = cli("check")
    assert code == 0, out + err
    assert f"pairwise ({CRITERION}): no pair judged  6 pairs not judged  no recording" in out
    assert (
        f"allowed (with warnings: support-answer: 6 pairs not judged on '{CRITERION}' "
        "(no recording for this request" in out
    )
    compared.write("promptvc.toml", '[gate]\noffline = "block"\n')
    code, out, _ = cli("check")
    assert code == 1 and "blocked: support-answer: 6 pairs not judged" in out


def test_a_judge_request_the_api_rejects_is_a_configuration_error(compared, model_server, cli):
    model_server.rule = scripted({("vague", "1"): "poor"})
    stage_vague_tone(compared)
    cli("eval", "--rev", "HEAD")
    cli("eval", "--staged")  # every answer cached: what is sent now is the judge's
    model_server.fail_first, model_server.fail_status = 100, 404
    model_server.error_body = {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-sonnet-4-6"},
    }
    code, _out, err = cli("check")
    assert code == 2
    assert err.startswith(
        "promptvc: the pairwise judge: the API does not know model 'claude-sonnet-4-6'"
    )
    assert len(err.strip().splitlines()) == 1


def test_log_and_log_json_show_the_pairwise_verdict_the_check_stored(compared, model_server, cli):
    """The pairwise judge's tally is stored with the comparison's figures: the commit's log line
    says it without asking the judge again."""
    scored = golden().replace("assert:\n", 'assert:\n  - {type: contains, value: "answer"}\n')
    compared.write("evals/support-answer.yaml", scored)
    compared.commit("a scored check beside the pairwise one")
    quality = {("vague", "1"): "poor", ("vague", "2"): "poor", ("warm", "3"): "poor"}
    model_server.rule = scripted(quality)
    assert cli("eval")[0] == 0
    stage_vague_tone(compared)
    assert cli("check")[0] == 0
    compared.commit("vaguer tone")
    model_server.reset()

    code, out, _ = cli("log")
    assert code == 0
    assert f"pairwise ({CRITERION}): 1 win · 3 ties · 2 losses  p=0.50" in out
    code, out, _ = cli("log", "--json")
    assert '"wins": 1' in out and '"losses": 2' in out
    assert model_server.calls == 0
