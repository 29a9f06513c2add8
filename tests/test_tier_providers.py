"""A provider per tier: OpenAI-compatible endpoints, Claude through Bedrock and Vertex, plugins
found by entry point, and the prices and bad input that come with them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from promptvc.evaluation.prices import price_for
from promptvc.providers import PROVIDERS, Connection, Identity
from promptvc.providers.registry import plugins
from tests.data import TIERS, answer_by_rule
from tests.helpers import db_rows

PLUGINS = Path(__file__).parent / "plugins"


def use_tier(repo, fast: str, commit: bool = True) -> None:
    repo.write("prompts/tiers.yaml", TIERS.replace(TIERS.splitlines()[0], f"fast: {fast}"))
    if commit:
        repo.commit("move the fast tier")


def openai_tier(server, extra: str = "") -> str:
    return (
        f'{{provider: openai, base_url: "{server.url}/v1", model: gpt-4.1-mini, '
        f"max_tokens: 512, api_key_env: null{extra}}}"
    )


@pytest.fixture
def openai_repo(model_repo, model_server):
    model_server.rule = answer_by_rule
    use_tier(model_repo, openai_tier(model_server, ", stop_sequences: [END]"))
    return model_repo


def test_an_openai_tier_sends_chat_completions_and_records_the_answer(
    openai_repo, model_server, cli
):
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    paths = {r["path"] for r in model_server.requests}
    assert paths == {"/v1/chat/completions"}
    body = model_server.requests[0]["body"]
    assert body["messages"][0]["role"] == "system"
    assert "Refunds" in body["messages"][0]["content"]
    assert body["messages"][-1]["role"] == "user"
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("gpt-4.1-mini", 512, 0)
    assert body["stop"] == ["END"] and "stop_sequences" not in body
    headers = {k.lower(): v for k, v in model_server.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer none"  # api_key_env: null sends no real key
    rows = db_rows(openai_repo, "SELECT provider, endpoint, reported_model, cost FROM responses")
    assert {r["provider"] for r in rows} == {"openai"}
    assert {r["endpoint"] for r in rows} == {f"{model_server.url}/v1"}
    assert {r["reported_model"] for r in rows} == {"gpt-4.1-mini-20990101"}
    assert {r["cost"] for r in rows} == {0.0}  # a server on this machine costs nothing
    assert json.loads(out)["sets"][0]["provider"] == "openai"
    # The same request again is answered from the cache.
    code, out, err = cli("eval", "--no-cache")
    assert code == 0 and model_server.calls == 4


def test_finish_reason_length_is_a_truncation(openai_repo, model_server, cli):
    model_server.stop_reason = "max_tokens"  # sent as finish_reason: length
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    cases = json.loads(out)["sets"][0]["cases"]
    assert all(c["truncated"] for c in cases)
    assert {r["stop_reason"] for r in db_rows(openai_repo, "SELECT * FROM responses")} == {"length"}


def test_429_with_retry_after_is_retried(openai_repo, model_server, cli):
    model_server.fail_first, model_server.fail_status, model_server.retry_after = 1, 429, "0"
    model_server.error_body = {"error": {"message": "slow down", "type": "rate_limit"}}
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 0, out + err
    assert model_server.calls == 3


def test_a_5xx_that_persists_is_a_provider_fault(openai_repo, model_server, cli, monkeypatch):
    model_server.fail_first, model_server.fail_status, model_server.retry_after = 99, 503, "0"
    model_server.error_body = {"error": {"message": "down", "type": "server_error"}}
    code, out, err = cli("eval", "--concurrency", "1")
    assert code == 3
    assert "HTTP 503: down" in out + err


def test_the_provider_and_endpoint_are_in_the_cache_key_and_the_set_key(
    model_repo, model_server, cli
):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    anthropic = db_rows(model_repo, "SELECT key, request FROM responses")
    use_tier(model_repo, openai_tier(model_server).replace("gpt-4.1-mini", "claude-haiku-4-5"))
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert model_server.calls == 4  # the same model name elsewhere is another request
    keys = {r["key"] for r in db_rows(model_repo, "SELECT key FROM responses")}
    assert len(keys) == 4 and {r["key"] for r in anthropic} < keys
    assert len({r["set_key"] for r in db_rows(model_repo, "SELECT set_key FROM set_scores")}) == 2


def test_a_tier_switched_to_openai_shows_in_diff_and_check_reevaluates_it(
    model_repo, model_server, cli
):
    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    use_tier(model_repo, openai_tier(model_server), commit=False)
    model_repo.stage("prompts/tiers.yaml")
    code, out, err = cli("diff", "--staged")
    assert code == 0, err
    assert "provider" in out and "openai" in out and "tiers.yaml: fast" in out
    assert "gpt-4.1-mini" in out
    model_server.reset()
    code, out, err = cli("check")
    assert code == 0, out + err
    assert {r["path"] for r in model_server.requests} == {"/v1/chat/completions"}


def test_bedrock_sends_the_messages_body_through_the_sdk_client(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "token-not-secret")
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    use_tier(
        model_repo,
        f'{{provider: bedrock, model: "{model}", region: us-east-1, base_url: "{model_server.url}", max_tokens: 512}}',
    )
    code, out, err = cli("eval")
    assert code == 0, out + err
    request = model_server.requests[0]
    assert request["path"] == f"/model/{model}/invoke"
    assert {k.lower(): v for k, v in request["headers"].items()}[
        "authorization"
    ] == "Bearer token-not-secret"
    body = request["body"]
    assert "model" not in body and "anthropic_version" in body  # as the SDK's client sends it
    assert body["max_tokens"] == 512 and body["system"].startswith("You are")
    costs = {r["cost"] for r in db_rows(model_repo, "SELECT cost FROM responses")}
    assert all(c > 0 for c in costs)  # priced as claude-haiku-4-5


def test_vertex_sends_the_messages_body_through_the_sdk_client(
    model_repo, model_server, cli, monkeypatch
):
    model_server.rule = answer_by_rule
    monkeypatch.setenv("MY_VERTEX_TOKEN", "token-not-secret")
    use_tier(
        model_repo,
        "{provider: vertex, model: claude-haiku-4-5@20251001, region: us-east5, project: acme, "
        f'base_url: "{model_server.url}", api_key_env: MY_VERTEX_TOKEN, max_tokens: 512}}',
    )
    code, out, err = cli("eval")
    assert code == 0, out + err
    request = model_server.requests[0]
    assert request["path"] == (
        "/projects/acme/locations/us-east5/publishers/anthropic/models/"
        "claude-haiku-4-5@20251001:rawPredict"
    )
    assert {k.lower(): v for k, v in request["headers"].items()}[
        "authorization"
    ] == "Bearer token-not-secret"
    assert "model" not in request["body"] and request["body"]["max_tokens"] == 512


def test_without_a_key_a_cloud_tier_runs_from_recordings(model_repo, model_server, cli):
    use_tier(
        model_repo, "{provider: bedrock, model: anthropic.claude-haiku-4-5-v1:0, region: eu-west-1}"
    )
    code, out, err = cli("eval")
    assert code == 0, out + err
    assert "bedrock (replay)" in out and model_server.calls == 0


@pytest.fixture
def shout_installed(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    plugins.cache_clear()
    yield
    plugins.cache_clear()
    PROVIDERS.pop("shout", None)
    sys.modules.pop("promptvc_shout", None)


def test_a_plugin_installed_beside_promptvc_answers_a_tier(shout_installed, model_repo, cli):
    use_tier(model_repo, "{provider: shout, model: loud-1}")
    code, out, err = cli("eval", "--json")
    assert code == 1, out + err  # it shouts the question back: the answers fail their checks
    outputs = {r["output"] for r in db_rows(model_repo, "SELECT output FROM results")}
    assert "HOW LONG DO I HAVE TO RETURN AN ITEM?" in outputs
    assert json.loads(out)["sets"][0]["provider"] == "shout"
    rows = db_rows(model_repo, "SELECT provider, endpoint, cost FROM responses")
    assert {(r["provider"], r["endpoint"], r["cost"]) for r in rows} == {
        ("shout", "local:shout", 0.0)
    }


def test_an_unknown_provider_lists_the_installed_ones(shout_installed, model_repo, cli):
    use_tier(model_repo, "{provider: gemini, model: gemini-2.5-flash}")
    code, out, err = cli("eval")
    assert code == 2
    assert err.strip().splitlines() == [
        "promptvc: prompts/tiers.yaml:1: tier 'fast': unknown provider 'gemini' "
        "(installed: anthropic, bedrock, openai, shout, vertex) (golden set support-answer)"
    ]


def test_an_offline_mode_is_not_a_tier_provider(model_repo, cli):
    use_tier(model_repo, "{provider: echo, model: claude-haiku-4-5}")
    code, out, err = cli("eval")
    assert code == 2
    assert "prompts/tiers.yaml:1: tier 'fast': provider 'echo' is an offline mode" in err


def test_a_missing_extra_gives_the_pip_line(model_repo, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if it were not installed
    monkeypatch.setenv("OPENAI_API_KEY", "key-not-secret")
    use_tier(model_repo, "{provider: openai, model: gpt-4.1-mini}")
    code, out, err = cli("eval")
    assert code == 2
    assert err.strip().splitlines() == [
        "promptvc: prompts/tiers.yaml:1: tier 'fast': the openai provider needs the openai "
        "package: pip install 'promptvc[openai]' (golden set support-answer)"
    ]


def test_a_missing_key_variable_is_named(model_repo, cli):
    use_tier(model_repo, "{provider: openai, model: gpt-4.1-mini, api_key_env: TEAM_OPENAI_KEY}")
    for insist in ("live", "anthropic"):
        code, out, err = cli("eval", "--provider", insist)
        assert code == 2
        assert "TEAM_OPENAI_KEY is not set" in err and len(err.strip().splitlines()) == 1
    # Without insisting, the set runs from recordings, as an Anthropic tier without a key does.
    code, out, err = cli("eval")
    assert code == 0 and "openai (replay)" in out


def test_a_tier_setting_must_be_text(model_repo, cli):
    use_tier(model_repo, "{provider: openai, model: gpt-4.1-mini, base_url: 5}")
    code, out, err = cli("eval")
    assert code == 2
    assert "prompts/tiers.yaml:1: tier 'fast': base_url must be a string" in err


def test_prices_for_other_families_and_local_servers():
    assert price_for("gpt-4.1-mini").input == 0.4
    assert price_for("gpt-4.1").output == 8.0
    assert price_for("gpt-4o-mini-2024-07-18").input == 0.15
    assert price_for("models/gemini-2.5-flash").output == 2.5
    assert price_for("us.anthropic.claude-haiku-4-5-20251001-v1:0").input == 1.0
    assert price_for("qwen3:8b") is None
    local = Identity(
        "openai",
        "http://127.0.0.1:11434/v1",
        "live",
        Connection.of({"provider": "openai", "base_url": "http://127.0.0.1:11434/v1"}),
    )
    assert price_for("gpt-4.1", None, local.known_price("gpt-4.1")).cost(10**6, 10**6) == 0
    hosted = Identity("openai", "https://api.openai.com/v1", "live", Connection("openai"))
    assert price_for("gpt-4.1", None, hosted.known_price("gpt-4.1")).input == 2.0
    own = price_for("qwen3:8b", {"input": 0.2, "output": 0.6}, (0.0, 0.0))
    assert (own.input, own.output) == (0.2, 0.6)  # the tier's price wins


def test_the_built_in_providers_are_registered_as_entry_points():
    import tomllib

    from promptvc.providers.registry import BUILTIN

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["promptvc.providers"] == BUILTIN


def test_the_judge_tier_may_use_another_provider_than_the_judged_prompt(
    model_repo, model_server, cli
):
    from tests.data import JUDGED_GOLDEN

    def rule(body):
        return "Score: 5\nCites the policy." if body["model"] == "gpt-4.1" else answer_by_rule(body)

    model_server.rule = rule
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    tiers = TIERS.replace(
        TIERS.splitlines()[2],
        f'judge: {{provider: openai, base_url: "{model_server.url}/v1", model: gpt-4.1, '
        "api_key_env: null, max_tokens: 256}",
    )
    model_repo.write("prompts/tiers.yaml", tiers)
    model_repo.commit("judge with another family")
    code, out, err = cli("eval")
    assert code == 0, out + err
    by_path = sorted((r["path"], r["body"]["model"]) for r in model_server.requests)
    assert by_path == [
        ("/v1/chat/completions", "gpt-4.1"),
        ("/v1/chat/completions", "gpt-4.1"),
        ("/v1/messages", "claude-haiku-4-5"),
        ("/v1/messages", "claude-haiku-4-5"),
    ]


def test_render_shows_the_tier_provider(model_repo, model_server, cli):
    use_tier(model_repo, openai_tier(model_server))
    code, out, err = cli("render", "support/answer", "--case", "refund-window")
    assert code == 0, err
    assert "provider        openai   (tiers.yaml: fast)" in out
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--json")
    assert json.loads(out)["provider"]["provider"] == "openai"


def test_the_chat_body_converts_messages_api_tools_and_keeps_openai_ones():
    from promptvc.evaluation.request import ModelRequest
    from promptvc.providers.openai_compat import chat_body

    tool = {"name": "lookup", "description": "Find an order", "input_schema": {"type": "object"}}
    native = {"type": "function", "function": {"name": "refund", "parameters": {}}}
    request = ModelRequest(
        "openai",
        "http://127.0.0.1:1/v1",
        "qwen3:8b",
        "",
        (("user", "hi"),),
        (
            ("max_tokens", 64),
            ("tool_choice", {"type": "tool", "name": "lookup"}),
            ("tools", [tool, native]),
            ("top_k", 20),
            ("thinking", {"type": "enabled"}),
        ),
    )
    body = chat_body(request)
    assert body["messages"] == [{"role": "user", "content": "hi"}]  # no system text, no message
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object"},
                "description": "Find an order",
            },
        },
        native,
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["extra_body"] == {"top_k": 20} and "thinking" not in body


def test_a_vertex_tier_needs_a_region(model_repo, cli):
    use_tier(model_repo, "{provider: vertex, model: claude-haiku-4-5@20251001, project: acme}")
    code, out, err = cli("eval")
    assert code == 2
    assert "prompts/tiers.yaml:1: tier 'fast': the vertex provider needs a region" in err


def test_a_diff_to_a_local_model_costs_nothing_rather_than_unknown(model_repo, model_server, cli):
    use_tier(model_repo, openai_tier(model_server).replace("gpt-4.1-mini", '"qwen3:8b"'), False)
    model_repo.stage("prompts/tiers.yaml")
    code, out, err = cli("diff", "--staged")
    assert code == 0, err
    assert "qwen3:8b" in out and "cost unknown" not in out


def test_a_provider_may_count_tokens_itself():
    from promptvc.providers import Provider

    class Counted(Provider):
        name = "counted"

        @classmethod
        def count_tokens(cls, connection, model, text):
            return len(text.split())

        async def complete(self, request, before_send=None):
            raise NotImplementedError

    PROVIDERS["counted"] = Counted
    try:
        identity = Identity("counted", "local", "live", Connection("counted"))
        assert identity.count_tokens("m", "three words here") == 3
        assert Identity("echo", "local", "echo").count_tokens("m", "three words here") is None
    finally:
        PROVIDERS.pop("counted")


def test_structured_output_and_tool_calls_the_chat_completions_way():
    from promptvc.evals.toolcalls import tool_calls
    from promptvc.evaluation.request import ModelRequest, output_config
    from promptvc.providers.openai_compat import chat_body, parse_completion

    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
        "additionalProperties": False,
    }
    request = ModelRequest(
        "openai",
        "http://127.0.0.1:1/v1",
        "gpt-4.1-mini",
        "",
        (("user", "hi"),),
        (("max_tokens", 64), ("output_config", output_config(schema))),
    )
    body = chat_body(request)
    assert "output_config" not in body  # translated, never forwarded
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
    call = {"type": "function", "function": {"name": "lookup", "arguments": '{"order_id": "A1"}'}}
    completion = {
        "model": "gpt-4.1-mini",
        "choices": [
            {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    response = parse_completion(completion, "gpt-4.1-mini", 1.0)
    assert tool_calls(response.text) == [{"name": "lookup", "arguments": {"order_id": "A1"}}]


def test_structured_output_end_to_end_through_an_openai_compatible_endpoint(
    openai_repo, model_server, cli
):
    schema = (
        "output_schema: {type: object, properties: {answer: {type: string}}, "
        "required: [answer], additionalProperties: false}\n"
    )
    prompt = openai_repo.root / "prompts/support/answer.jinja"
    prompt.write_text(prompt.read_text().replace("---\n", "---\n" + schema, 1))
    model_server.rule = lambda body: '{ "answer": "No, only within 30 days." }'
    code, out, err = cli("eval", "--json")
    assert code == 0, out + err
    body = model_server.requests[0]["body"]
    assert "output_config" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    case = json.loads(out)["sets"][0]["cases"][0]
    assert case["output"] == '{"answer":"No, only within 30 days."}'  # stored canonical
    assert any(a["label"].startswith("is-json") and a["passed"] for a in case["assertions"])
