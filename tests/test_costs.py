"""Knowing before paying: --dry-run, counted and estimated input tokens, prices."""

from __future__ import annotations

import json

import pytest

from tests.data import answer_by_rule
from tests.helpers import db_rows
from tests.model_server import count_words


def _paths(server) -> list[str]:
    return [r["path"] for r in server.requests]


def test_dry_run_counts_tokens_sends_no_message_and_caches_the_counts(
    model_repo, model_server, cli
):
    code, out, err = cli("eval", "--dry-run", "--json")
    assert code == 0, out + err
    assert _paths(model_server) == ["/v1/messages/count_tokens"] * 2  # no /v1/messages
    report = json.loads(out)
    [row] = report["sets"]
    expected = sum(count_words(r["body"]) for r in model_server.requests)
    assert row["id"] == "support-answer" and row["requests"] == 2
    assert row["input_tokens"] == row["counted_tokens"] == expected
    assert row["tokens"] == "counted" and row["cost"] > 0
    assert report["total"]["requests"] == 2 and report["estimated_because"] is None
    # The counts are stored by request: a second dry run sends nothing at all.
    assert len(db_rows(model_repo, "SELECT * FROM token_counts")) == 2
    code, again, _ = cli("eval", "--dry-run", "--json")
    assert code == 0 and model_server.calls == 2
    assert json.loads(again)["sets"] == report["sets"]
    # Nothing was run: no run recorded, and a real run then sends both cases.
    assert db_rows(model_repo, "SELECT * FROM runs") == []


def test_dry_run_after_a_run_has_nothing_left_to_send(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    model_server.reset()
    code, out, err = cli("eval", "--dry-run")
    assert code == 0, err
    assert model_server.calls == 0
    assert "dry run: nothing sent" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1] == "0" and "$0.00" in total


def test_without_a_key_the_estimate_is_offline_and_labelled(model_repo, cli):
    code, out, err = cli("eval", "--dry-run")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("support-answer"))
    assert row.split()[1] == "2" and "≈" in row  # what a run with the key would send
    assert "input tokens estimated offline (no API key to count tokens with)" in out
    report = json.loads(cli("eval", "--dry-run", "--json")[1])
    assert report["sets"][0]["tokens"] == "estimated"
    assert report["estimated_because"] == "no API key to count tokens with"


def test_a_failed_count_falls_back_to_the_estimate(model_repo, model_server, cli):
    model_server.fail_first = 100
    model_server.fail_status = 400
    model_server.error_body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "no"},
    }
    code, out, err = cli("eval", "--dry-run", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["sets"][0]["tokens"] == "estimated" and report["sets"][0]["requests"] == 2
    assert report["estimated_because"].startswith("counting tokens failed: BadRequestError")
    assert db_rows(model_repo, "SELECT * FROM token_counts") == []


def test_max_cost_refuses_a_run_above_it_before_sending(model_repo, model_server, cli):
    code, _, err = cli("eval", "--max-cost", "0.000001")
    assert code == 3, err
    assert "above --max-cost $0.000001" in err and "2 requests" in err
    assert model_server.calls == 0
    model_server.rule = answer_by_rule
    assert cli("eval", "--max-cost", "5")[0] == 0


def test_max_cost_holds_with_no_cache_which_sends_everything_again(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    assert model_server.calls == 2
    code, _, err = cli("eval", "--no-cache", "--max-cost", "0.000001")
    assert code == 3, err
    assert "above --max-cost $0.000001" in err and "2 requests" in err
    assert model_server.calls == 2
    assert cli("eval", "--no-cache", "--max-cost", "5")[0] == 0
    assert model_server.calls == 4


@pytest.mark.parametrize(
    ("model", "factor"),
    [
        ("claude-haiku-4-5-20251001", 1.0),
        ("claude-sonnet-4-20250514", 1.0),
        ("claude-3-7-sonnet-latest", 1.0),
        ("claude-opus-4-7", 1.3),
        ("claude-sonnet-5-5", 1.3),
        ("us.anthropic.claude-haiku-5-5-v1:0", 1.3),
        ("claude-opus-5", 1.3),
        ("gpt-4.1", 1.0),
        (None, 1.0),
    ],
)
def test_the_offline_estimate_knows_the_newer_tokenizer(model, factor):
    from promptvc.evaluation.prices import estimate_tokens, tokenizer_factor

    assert tokenizer_factor(model) == factor
    text = "word " * 400  # 2,000 characters: 500 tokens at four characters a token
    assert estimate_tokens(text, model) == round(500 * factor)


def test_prices_know_the_current_claude_models_and_the_long_prompt_rate():
    from promptvc.evaluation.prices import price_for

    assert price_for("claude-opus-5-5").cost(1_000_000, 1_000_000) == 24.0
    assert price_for("claude-sonnet-5-5-20260901").cost(1_000_000, 0) == 2.0
    haiku = price_for("claude-haiku-5-5")
    assert haiku.cost(100_000, 1_000) == pytest.approx((100_000 * 0.1 + 1_000 * 0.5) / 1e6)
    # A prompt over 100k tokens pays the long-prompt rate on every token, output included.
    assert haiku.cost(100_001, 1_000) == pytest.approx((100_001 * 0.5 + 1_000 * 2.5) / 1e6)
    assert price_for("claude-haiku-4-5").cost(1_000_000, 0) == 1.0  # not the 5.5 family


def test_what_the_cache_saved_on_a_long_prompt_is_at_the_rate_the_call_paid():
    """A prompt over 100k tokens in all (uncached, written and read) pays the long-prompt rate
    on every token: its cache reads saved at that rate, not at the short one."""
    from promptvc.evaluation.prices import CacheUse, price_for

    haiku = price_for("claude-haiku-5-5")
    use = CacheUse(written=0, read=60_000)
    paid = haiku.cost(50_000, 0, use)
    assert paid == pytest.approx((50_000 + 60_000 * 0.1) * 0.5 / 1e6)  # the long rate
    uncached = haiku.cost(110_000, 0)
    assert haiku.cache_saving(use, 50_000) == pytest.approx(uncached - paid)


@pytest.mark.parametrize(
    ("price", "says"),
    [
        ("{input: cheap, output: 5}", "price input must be a number of USD per million tokens"),
        ("{input: 1, outptu: 5}", "price has unknown key 'outptu'"),
        ("3", "price must be a mapping of input and output"),
    ],
)
def test_a_price_that_is_not_a_number_is_one_line_and_exit_2(model_repo, cli, price, says):
    model_repo.write(
        "prompts/tiers.yaml",
        "fast:\n  model: claude-haiku-4-5\n  max_tokens: 512\n"
        f"  price: {price}\ndefault: {{model: claude-sonnet-4-6}}\n",
    )
    code, out, err = cli("eval", "--dry-run")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith(f"promptvc: prompts/tiers.yaml:1: tier 'fast': {says}")


def test_check_and_diff_eval_dry_runs_estimate_both_sides_and_send_nothing(
    model_repo, model_server, cli
):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0  # HEAD's side is stored: only the change's side is left to send
    model_server.reset()
    model_repo.write("prompts/partials/tone.jinja", "Be warm, brief and exact, always.\n")
    model_repo.git("add", "-A")
    code, out, err = cli("check", "--dry-run")
    assert code == 0, out + err
    assert "promptvc check · staged vs HEAD" in out and "dry run: nothing sent" in out
    rows = {tuple(line.split()[:3]) for line in out.splitlines()}
    assert ("support-answer", "before", "0") in rows and ("support-answer", "after", "2") in rows
    assert {r["path"] for r in model_server.requests} == {"/v1/messages/count_tokens"}
    code, out, err = cli("diff", "--staged", "--eval", "--dry-run", "--json")
    assert code == 0, err
    report = json.loads(out)
    after = next(s for s in report["sets"] if s.get("side") == "after")
    assert after["requests"] == 2 and after["tokens"] == "counted"
    assert {r["path"] for r in model_server.requests} == {"/v1/messages/count_tokens"}
    assert db_rows(model_repo, "SELECT count(*) AS n FROM runs")[0]["n"] == 1
    code, _, err = cli("diff", "--dry-run")
    assert code == 2 and "--dry-run goes with --eval" in err


def _with_budget(repo, budget: int) -> None:
    path = repo.root / "prompts/support/answer.jinja"
    text = path.read_text().replace("tier: fast\n", f"tier: fast\nmax_input_tokens: {budget}\n")
    repo.write("prompts/support/answer.jinja", text)


def test_a_render_over_its_token_budget_fails_its_case_without_a_call(
    model_repo, model_server, cli
):
    model_server.rule = answer_by_rule
    _with_budget(model_repo, 10)
    code, out, err = cli("eval", "--json")
    assert code == 1, err  # a failed set, not an error
    assert model_server.calls == 0
    [result] = json.loads(out)["sets"]
    assert result["status"] == "failed"
    for case in result["cases"]:
        assert case["status"] == "failed" and case["cost"] is None
        [grade] = case["assertions"]
        assert grade["label"] == "max_input_tokens" and not grade["passed"]
        assert (
            grade["reason"].startswith("≈")
            and "over the prompt's max_input_tokens of 10" in (grade["reason"])
        )
    # A dry run sends none of them either.
    report = json.loads(cli("eval", "--dry-run", "--json")[1])
    assert report["total"]["requests"] == 0


def test_counted_tokens_decide_the_budget_when_known(model_repo, model_server, cli):
    from promptvc.evaluation.prices import estimate_tokens

    model_server.rule = answer_by_rule
    assert cli("eval", "--dry-run")[0] == 0  # counts both requests: a word a token here
    rendered = cli("render", "support/answer", "--case", "late-return", "--plain")[1]
    counted = max(r["input_tokens"] for r in db_rows(model_repo, "SELECT * FROM token_counts"))
    # The budget is not part of the request, so its counts stand. By the offline estimate (about
    # four characters a token) the cases are over it, but the counted tokens fit: they are sent.
    assert estimate_tokens(rendered, "claude-haiku-4-5") > counted
    _with_budget(model_repo, counted)
    report = json.loads(cli("eval", "--dry-run", "--json")[1])
    assert report["total"]["requests"] == 2 and report["total"]["tokens"] == "counted"
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert [r["path"] for r in model_server.requests[2:]] == ["/v1/messages"] * 2


def test_the_offline_estimate_decides_the_budget_when_nothing_is_counted(model_repo, cli):
    from promptvc.evaluation.prices import estimate_tokens

    rendered = cli("render", "support/answer", "--case", "refund-window", "--plain")[1]
    _with_budget(model_repo, estimate_tokens(rendered, "claude-haiku-4-5") - 5)
    report = json.loads(cli("eval", "--dry-run", "--json")[1])
    assert report["sets"][0]["requests"] == 0  # both cases are over it by the estimate


def test_a_bad_budget_is_one_line_and_exit_2(model_repo, cli):
    _with_budget(model_repo, -3)
    code, _, err = cli("eval", "--dry-run")
    assert code == 2
    assert (
        "prompts/support/answer.jinja:4: 'max_input_tokens' must be a positive whole number" in err
    )


def test_diff_flags_a_change_that_pushes_a_case_over_the_budget(model_repo, cli):
    _with_budget(model_repo, 200)
    model_repo.stage()
    model_repo.commit("a budget")
    assert cli("diff")[0] == 0
    model_repo.write("prompts/partials/tone.jinja", "Be warm and exact. " * 60 + "\n")
    code, out, err = cli("diff")
    assert code == 0, err
    assert "pushes 2 cases over max_input_tokens (they fail without a call)" in out
    assert "support-answer/refund-window: ≈" in out
    report = json.loads(cli("diff", "--json")[1])
    [prompt] = report["prompts"]
    assert len(prompt["rendered"]["over_budget"]) == 2


def test_prices_prints_the_table_its_date_and_the_tiers(model_repo, cli):
    from promptvc.evaluation.prices import PRICES_CHECKED, PRICES_SOURCE

    model_repo.write(
        "prompts/tiers.yaml",
        "fast: {model: claude-haiku-5-5, max_tokens: 512}\n"
        "default: {model: claude-sonnet-4-6, price: {input: 2.5, output: 12}}\n"
        "deep: {model: claude-opus-5-5, thinking: {type: enabled, budget_tokens: 4000}}\n"
        "local: {model: my-own-model}\n",
    )
    code, out, err = cli("prices")
    assert code == 0, err
    assert f"checked {PRICES_CHECKED} against {PRICES_SOURCE}" in out
    assert "claude-opus-5-5" in out and "prompts over 100,000 tokens: $0.5 / $2.5" in out
    assert "fast: claude-haiku-5-5 · $0.1 / $0.5 (built-in)" in out
    assert "default: claude-sonnet-4-6 · $2.5 / $12 (tiers.yaml)" in out
    assert "thinking" in out and "≈1,000 output tokens a call" in out
    assert "local: my-own-model · no price known" in out
    report = json.loads(cli("prices", "--json")[1])
    assert report["checked"] == PRICES_CHECKED and report["multipliers"]["batch"] == 0.5
    opus = next(m for m in report["models"] if m["model"] == "claude-opus-5-5")
    assert (opus["input"], opus["output"]) == (4.0, 20.0)


def test_thinking_is_priced_as_output(model_repo, cli):
    model_repo.write(
        "prompts/tiers.yaml",
        "fast: {model: claude-haiku-4-5, max_tokens: 512,"
        " thinking: {type: enabled, budget_tokens: 8000}}\n",
    )
    with_thinking = json.loads(cli("eval", "--dry-run", "--json")[1])["total"]["cost"]
    model_repo.write("prompts/tiers.yaml", "fast: {model: claude-haiku-4-5, max_tokens: 512}\n")
    without = json.loads(cli("eval", "--dry-run", "--json")[1])["total"]["cost"]
    # Two cases, a quarter of the thinking budget each, at $5 per million output tokens.
    assert with_thinking - without == pytest.approx(2 * 2000 * 5 / 1e6, rel=1e-3)


def test_effort_is_a_tier_setting_sent_as_output_config_and_diffed(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    model_repo.write(
        "prompts/tiers.yaml", "fast: {model: claude-haiku-5-5, max_tokens: 512, effort: low}\n"
    )
    model_repo.stage()
    model_repo.commit("low effort")
    assert cli("eval")[0] == 0
    body = model_server.requests[0]["body"]
    assert body["output_config"] == {"effort": "low"} and "effort" not in body
    model_repo.write(
        "prompts/tiers.yaml", "fast: {model: claude-haiku-5-5, max_tokens: 512, effort: high}\n"
    )
    code, out, err = cli("diff")
    assert code == 0, err
    assert any("effort" in line and "low → high" in line for line in out.splitlines())
    # A changed effort is a changed request: the dry run would send both cases again.
    assert json.loads(cli("eval", "--dry-run", "--json")[1])["total"]["requests"] == 2


def test_an_unknown_effort_is_one_line_and_exit_2(model_repo, cli):
    model_repo.write("prompts/tiers.yaml", "fast: {model: claude-haiku-5-5, effort: extreme}\n")
    code, _, err = cli("eval", "--dry-run")
    assert code == 2
    assert "tier 'fast': effort must be one of low, medium, high, xhigh, max, not 'extreme'" in err
