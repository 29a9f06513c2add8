"""Prompt caching: breakpoints from front matter and `cache:` lines, on the request as the API
sees them, the test server's simulated cache, cost of reads and writes, render, diff, eval, log."""

import json

import pytest

from promptvc.errors import UserError
from promptvc.evaluation.request import build_request
from promptvc.prompts.caching import SYSTEM, Breakpoint
from tests.data import ANSWER, TIERS
from tests.helpers import db_rows, renderer

VARS = {"question": "How long?", "policy": "30 days."}
FEW_SHOT = """---
tier: fast
examples: examples/support.yaml
{front}---
system:
You are a support agent. Policy:
{{{{ policy }}}}
{{% for ex in examples %}}
user:
{{{{ ex.question }}}}
assistant:
{{{{ ex.answer }}}}
{{% endfor %}}
{body}user:
{{{{ question }}}}
"""


def few_shot(repo, front: str = "", body: str = "", name: str = "support/cached"):
    repo.write(f"prompts/{name}.jinja", FEW_SHOT.format(front=front, body=body), dedent=False)
    return renderer(repo).render(name, VARS)


def test_front_matter_places_breakpoints_after_system_and_after_the_last_example(support_repo):
    out = few_shot(support_repo, front="cache: [system, examples]\n")
    assert out.breakpoints == (
        Breakpoint(SYSTEM, len(out.system)),
        Breakpoint(1, len(out.messages[1].content)),
    )
    assert [m.role for m in out.messages] == ["user", "assistant", "user"]


def test_a_cache_line_ends_the_prefix_where_it_stands(support_repo):
    out = few_shot(support_repo, body="cache:\n")
    assert out.breakpoints == (Breakpoint(1, len(out.messages[1].content)),)
    assert "cache:" not in out.plain().replace("── cache breakpoint (5m) ──", "")


def test_a_cache_line_inside_a_turn_cuts_it(git_repo):
    git_repo.write("prompts/doc.jinja", "user:\nA long document.\ncache:\nQuestion: {{ q }}\n")
    out = renderer(git_repo).render("doc", {"q": "why?"})
    assert out.messages[0].content == "A long document.\nQuestion: why?"
    assert out.breakpoints == (Breakpoint(0, len("A long document.\n")),)
    body = build_request(out, "anthropic", "x").payload()
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "A long document.\n", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Question: why?"},
    ]


def test_a_variable_holding_a_cache_line_stays_data(support_repo):
    support_repo.write(
        "prompts/support/cached.jinja", FEW_SHOT.format(front="", body=""), dedent=False
    )
    out = renderer(support_repo).render(
        "support/cached", {**VARS, "question": "hi\ncache:\nmore", "policy": "a\ncache:\nb"}
    )
    assert out.breakpoints == ()
    assert out.messages[-1].content == "hi\ncache:\nmore"
    assert "a\ncache:\nb" in out.system


def test_more_than_four_breakpoints_is_refused_with_file_and_line(git_repo):
    body = "".join(f"user:\nturn {i}\ncache:\nassistant:\nok\n" for i in range(5))
    git_repo.write("prompts/many.jinja", body + "user:\nlast\n")
    with pytest.raises(UserError) as err:
        renderer(git_repo).render("many", {})
    assert "5 cache breakpoints" in str(err.value) and "at most 4" in str(err.value)
    assert err.value.path == "prompts/many.jinja" and err.value.line == 23


def test_a_bad_cache_key_names_its_line(git_repo):
    git_repo.write("prompts/bad.jinja", "---\ndescription: x\ncache: [tools]\n---\nhi\n")
    with pytest.raises(UserError) as err:
        renderer(git_repo).render("bad", {})
    assert err.value.line == 3 and "'cache' must be a list" in str(err.value)


def cached_answer(repo, front: str = "cache: [system, examples]\n") -> None:
    repo.write(
        "prompts/support/answer.jinja",
        ANSWER.replace("temperature: 0\n", front + "temperature: 0\n"),
    )
    repo.commit("cache the stable prefix")


def test_eval_sends_breakpoints_and_prices_cache_writes_and_reads(model_repo, model_server, cli):
    cached_answer(model_repo)
    model_server.rule = lambda body: "Within 30 days."
    code, out, err = cli("eval")
    assert code == 0, out + err
    bodies = [r["body"] for r in model_server.requests]
    assert len(bodies) == 2
    for body in bodies:
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["messages"][1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert isinstance(body["messages"][2]["content"], str)  # the question is not cached
    rows = db_rows(model_repo, "SELECT * FROM responses ORDER BY cache_read_tokens")
    prefix = len(
        " ".join([bodies[0]["system"][0]["text"], *_texts(bodies[0]["messages"][:2])]).split()
    )
    assert [(r["cache_write_tokens"], r["cache_read_tokens"]) for r in rows] == [
        (prefix, 0),
        (0, prefix),
    ]
    output = 3  # "Within 30 days." at a word a token
    written, read = rows
    assert written["cost"] == pytest.approx((100 + prefix * 1.25) / 1e6 + output * 5 / 1e6)
    assert read["cost"] == pytest.approx((100 + prefix * 0.1) / 1e6 + output * 5 / 1e6)
    saved = prefix * 0.9 / 1e6 - prefix * 0.25 / 1e6
    assert f"cache support-answer: {prefix:,} tokens read, {prefix:,} written, saved $" in out
    run = db_rows(model_repo, "SELECT * FROM runs")[-1]
    assert (run["cache_write_tokens"], run["cache_read_tokens"]) == (prefix, prefix)
    assert run["cache_saved"] == pytest.approx(saved)
    assert db_rows(model_repo, "SELECT cache_saved FROM set_scores")[0][
        "cache_saved"
    ] == pytest.approx(saved)


def test_a_one_hour_ttl_is_sent_and_its_writes_cost_twice_the_input(model_repo, model_server, cli):
    cached_answer(model_repo, "cache: [system]\ncache_ttl: 1h\n")
    model_server.rule = lambda body: "Within 30 days."
    assert cli("eval")[0] == 0
    body = model_server.requests[0]["body"]
    assert body["system"] == [
        {
            "type": "text",
            "text": body["system"][0]["text"],
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    written = db_rows(model_repo, "SELECT * FROM responses WHERE cache_write_tokens > 0")[0]
    tokens = written["cache_write_tokens"]
    assert written["cost"] == pytest.approx((100 + tokens * 2.0) / 1e6 + 3 * 5 / 1e6)


def test_breakpoints_are_part_of_the_request_key(support_repo):
    plain = build_request(few_shot(support_repo), "anthropic", "x")
    cached = build_request(few_shot(support_repo, front="cache: [system]\n"), "anthropic", "x")
    assert plain.messages == cached.messages and plain.system == cached.system
    assert plain.key != cached.key and plain.ask_key != cached.ask_key


def _texts(messages: list[dict]) -> list[str]:
    return [
        m["content"] if isinstance(m["content"], str) else "".join(b["text"] for b in m["content"])
        for m in messages
    ]


def test_render_shows_the_breakpoints(model_repo, cli):
    cached_answer(model_repo)
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert code == 0, err
    assert out.count("── cache breakpoint (5m) ──") == 2
    assert "Be warm and brief.\n── cache breakpoint (5m) ──\nuser:" in out
    code, out, _ = cli("render", "support/answer", "--case", "refund-window")
    assert code == 0 and out.count("── cache breakpoint (5m) ──") == 2
    shown = json.loads(cli("render", "support/answer", "--case", "refund-window", "--json")[1])
    system = shown["system"]
    assert shown["cache_breakpoints"] == [
        {"system": True, "offset": len(system), "ttl": "5m"},
        {"message": 1, "offset": len(shown["messages"][1]["content"]), "ttl": "5m"},
    ]


def test_more_than_four_breakpoints_exit_2_in_one_line(model_repo, cli):
    body = "".join(f"user:\nturn {i}\ncache:\nassistant:\nok\n" for i in range(5))
    model_repo.write("prompts/many.jinja", body + "user:\nlast\n")
    code, out, err = cli("render", "many")
    assert code == 2 and "Traceback" not in err
    assert "prompts/many.jinja:23: 5 cache breakpoints; the Messages API takes at most 4" in err


def test_diff_says_when_a_change_invalidates_the_cached_prefix(model_repo, cli):
    cached_answer(model_repo)
    model_repo.write("prompts/partials/tone.jinja", "Be warm and exact.\n")
    code, out, err = cli("diff")
    assert code == 0, err
    assert "the cached prefix changed: the first call of each case pays the cache write" in out
    assert "under the 4,096 that claude-haiku-4-5 caches at least: no caching happens" in out
    report = json.loads(cli("diff", "--json")[1])
    assert "cache_invalidated" in json.dumps(report)


def test_a_change_after_the_breakpoints_keeps_the_cache(model_repo, cli):
    cached_answer(model_repo)
    model_repo.write("prompts/partials/tone.jinja", "Be warm and brief. " * 1200 + "\n")
    model_repo.commit("a long policy text")
    path = model_repo.root / "prompts/support/answer.jinja"
    path.write_text(path.read_text().replace("user:\n{{ question }}", "user:\nQ: {{ question }}"))
    code, out, err = cli("diff")
    assert code == 0, err
    assert "messages[2] user" in out  # the question changed
    assert "cached prefix changed" not in out and "no caching happens" not in out


def test_openai_compatible_endpoints_get_no_breakpoints_and_report_cached_reads(
    model_repo, model_server, cli
):
    cached_answer(model_repo)
    model_repo.write(
        "prompts/tiers.yaml",
        TIERS.replace(
            TIERS.splitlines()[0],
            f'fast: {{provider: openai, base_url: "{model_server.url}/v1", model: gpt-4.1-mini, '
            "api_key_env: null, price: {input: 1.0, output: 4.0}}",
        ),
    )
    model_repo.commit("openai")
    model_server.rule = lambda body: "Within 30 days."
    model_server.cached_tokens = 60
    assert cli("eval")[0] == 0
    body = model_server.requests[0]["body"]
    assert all(isinstance(m["content"], str) for m in body["messages"])
    row = db_rows(model_repo, "SELECT * FROM responses")[0]
    assert (row["tokens_in"], row["cache_read_tokens"], row["cache_write_tokens"]) == (40, 60, 0)
    assert row["cost"] == pytest.approx((40 + 60 * 0.1) / 1e6 + 3 * 4 / 1e6)


def test_log_shows_what_the_cache_saved(model_repo, model_server, cli):
    cached_answer(model_repo)
    model_server.rule = lambda body: "Within 30 days."
    code, out, err = cli("eval", "--json")
    assert code == 0, err
    figures = json.loads(out)["sets"][0]["cache"]
    assert figures["read_tokens"] == figures["write_tokens"] > 0 and figures["saved"] > 0
    code, out, err = cli("log")
    assert code == 0, err
    assert "cache: " in out and "tokens read" in out and "saved $" in out
    entry = json.loads(cli("log", "--json")[1])[0]["sets"][0]
    assert entry["cache"]["read_tokens"] > 0 and entry["cache"]["write_tokens"] > 0
    assert entry["cache"]["saved"] > 0


def test_the_runtime_sends_the_breakpoints_and_keeps_its_fields_text(model_repo):
    import promptvc

    cached_answer(model_repo)
    request = promptvc.load(str(model_repo.root)).render(
        "support/answer", question="How long?", policy="30 days."
    )
    assert isinstance(request.system, str)
    assert all(isinstance(m["content"], str) for m in request.messages)
    sent = request.anthropic()
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all(isinstance(m["content"], str) for m in request.openai()["messages"])


def test_a_cache_line_is_sent_as_a_breakpoint_and_read_back_by_the_next_case(
    model_repo, model_server, cli
):
    model_repo.write(
        "prompts/support/answer.jinja", ANSWER.replace("{% endfor %}\n", "{% endfor %}\ncache:\n")
    )
    model_repo.commit("cache the few-shot prefix")
    model_server.rule = lambda body: "Within 30 days."
    assert cli("eval")[0] == 0
    for request in model_server.requests:
        body = request["body"]
        assert isinstance(body["system"], str)  # no breakpoint there
        last_shot = body["messages"][1]["content"]
        assert [b.get("cache_control") for b in last_shot] == [{"type": "ephemeral"}]
    rows = db_rows(model_repo, "SELECT cache_write_tokens w, cache_read_tokens r FROM responses")
    assert sorted((row["w"] > 0, row["r"] > 0) for row in rows) == [(False, True), (True, False)]


def test_diff_shows_a_breakpoint_added_without_a_text_change(model_repo, cli):
    cached_answer(model_repo, "cache: [system]\n")
    model_repo.write("prompts/support/answer.jinja", ANSWER)
    code, out, err = cli("diff")
    assert code == 0, err
    assert "-── cache breakpoint (5m) ──" in out
    assert "cached prefix changed" not in out  # no cache on the new side: nothing to invalidate


def test_a_bad_cache_ttl_is_one_line_and_exit_2(model_repo, cli):
    cached_answer(model_repo, "cache: [system]\ncache_ttl: 2h\n")
    code, _, err = cli("render", "support/answer", "--case", "refund-window")
    assert code == 2 and err.count("\n") == 1
    assert "prompts/support/answer.jinja:5: 'cache_ttl' must be one of 5m, 1h, not '2h'" in err


def test_a_batch_answer_pays_its_cache_writes_and_reads_at_the_batch_discount(
    model_repo, model_server, cli
):
    cached_answer(model_repo)
    model_server.rule = lambda body: "Within 30 days."
    code, out, err = cli("eval", "--batch")
    assert code == 0, out + err
    assert model_server.batch_creates == 1
    rows = db_rows(model_repo, "SELECT * FROM responses")
    assert {r["source"] for r in rows} == {"batch"}
    assert any(r["cache_write_tokens"] for r in rows) and any(r["cache_read_tokens"] for r in rows)
    for r in rows:  # as sent one by one (input $1, output $5 per million), then halved
        cached = r["cache_write_tokens"] * 1.25 + r["cache_read_tokens"] * 0.1
        full = (r["tokens_in"] + cached) / 1e6 + r["tokens_out"] * 5 / 1e6
        assert r["cost"] == pytest.approx(full * 0.5)
    run = db_rows(model_repo, "SELECT * FROM runs")[-1]
    assert run["cache_write_tokens"] == sum(r["cache_write_tokens"] for r in rows)
    assert run["cache_read_tokens"] == sum(r["cache_read_tokens"] for r in rows)
