"""Models that reject sampling parameters get none sent; `render` and `diff` say so."""

from __future__ import annotations

import json

import pytest

from promptvc.evaluation.request import build_request
from promptvc.prompts.capabilities import dropped, takes_sampling
from tests.data import ANSWER, TIERS, answer_by_rule
from tests.helpers import db_rows, renderer


@pytest.mark.parametrize(
    "model, takes",
    [
        ("claude-haiku-4-5", True),
        ("claude-haiku-4-5-20251001", True),
        ("claude-sonnet-4-6", True),
        ("claude-opus-4-6", True),
        ("claude-opus-4-1", True),
        ("claude-3-7-sonnet-20250219", True),
        ("claude-sonnet-5", False),
        ("claude-sonnet-5-20260301", False),  # a date is not a minor version
        ("claude-sonnet-5-1", False),
        ("claude-sonnet-6", False),
        ("claude-opus-4-7", False),
        ("claude-opus-4-10", False),
        ("claude-opus-5", False),
        ("anthropic.claude-opus-4-7-v1:0", False),  # as a gateway or Bedrock names it
        ("gpt-4o", True),
        (None, True),
    ],
)
def test_the_table_goes_by_family_and_version(model, takes):
    assert takes_sampling(model) is takes


def test_the_warning_names_the_parameter_its_value_and_the_model():
    params = {"max_tokens": 10, "temperature": 0.3, "top_k": 5}
    assert [str(d) for d in dropped("claude-sonnet-5", params)] == [
        "temperature: 0.3 will be dropped: claude-sonnet-5 takes no sampling parameters",
        "top_k: 5 will be dropped: claude-sonnet-5 takes no sampling parameters",
    ]
    assert dropped("claude-haiku-4-5", params) == []


def _fast_tier_model(repo, model: str) -> None:
    repo.write("prompts/tiers.yaml", TIERS.replace("claude-haiku-4-5", model))


def test_no_sampling_parameter_reaches_a_model_that_rejects_them(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    model_repo.write(
        "prompts/support/answer.jinja",
        ANSWER.replace("temperature: 0", "temperature: 0.3\ntop_p: 0.9"),
    )
    assert cli("eval")[0] == 0
    sent = [r["body"] for r in model_server.requests]
    assert {(b["model"], b.get("temperature"), b.get("top_p")) for b in sent} == {
        ("claude-haiku-4-5", 0.3, 0.9)
    }
    model_server.reset()
    _fast_tier_model(model_repo, "claude-sonnet-5")
    assert cli("eval")[0] == 0
    sent = [r["body"] for r in model_server.requests]
    assert len(sent) == 2 and all(b["model"] == "claude-sonnet-5" for b in sent)
    assert not any({"temperature", "top_p", "top_k"} & set(b) for b in sent)
    # What is stored (and replayed, and exported) is what was sent.
    stored = db_rows(model_repo, "SELECT request FROM responses WHERE model = 'claude-sonnet-5'")
    assert stored and not any("temperature" in json.loads(r["request"]) for r in stored)


def test_the_cache_key_is_what_is_sent(model_repo):
    """Two configs that differ only in a dropped parameter send the same request: one key."""
    _fast_tier_model(model_repo, "claude-opus-4-7")
    keys = set()
    for temperature in ("0", "0.7"):
        model_repo.write(
            "prompts/support/answer.jinja",
            ANSWER.replace("temperature: 0\n", f"temperature: {temperature}\n"),
        )
        rendered = renderer(model_repo).render("support/answer", {"question": "q", "policy": "p"})
        request = build_request(rendered, "anthropic", "https://api.anthropic.com")
        assert "temperature" not in dict(request.params)
        keys.add(request.key)
    assert len(keys) == 1
    # The plan knows the model samples at its default, so one sample is flagged as noisy.
    assert renderer(model_repo).config("support/answer").temperature == 1.0


def test_render_warns_once_per_dropped_parameter(support_repo, cli):
    _fast_tier_model(support_repo, "claude-sonnet-5")
    code, out, err = cli("render", "support/answer", "--case", "refund-window")
    assert code == 0 and "temperature" in out  # the config is shown as written
    assert err == (
        "promptvc: warning: temperature: 0 will be dropped: claude-sonnet-5 takes no sampling "
        "parameters (front matter)\n"
    )
    _fast_tier_model(support_repo, "claude-haiku-4-5")
    assert cli("render", "support/answer", "--case", "refund-window")[2] == ""


def test_diff_warns_when_the_new_side_would_drop_a_parameter(support_repo, cli):
    _fast_tier_model(support_repo, "claude-sonnet-5")
    code, out, _ = cli("diff")
    assert code == 0
    assert (
        "  warning    temperature: 0 will be dropped: claude-sonnet-5 takes no sampling parameters"
        in out
    )
    data = json.loads(cli("diff", "--json")[1])
    assert data["prompts"][0]["warnings"] == [
        "temperature: 0 will be dropped: claude-sonnet-5 takes no sampling parameters"
    ]
    # Back to a model that takes it: no warning.
    _fast_tier_model(support_repo, "claude-haiku-4-6")
    assert "will be dropped" not in cli("diff")[1]
