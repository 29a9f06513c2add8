"""Prompt caching: breakpoints from front matter and `cache:` lines, on the request as the API
sees them, the test server's simulated cache, cost of reads and writes, render, diff, eval, log."""

import pytest

from promptvc.errors import UserError
from promptvc.evaluation.request import build_request
from promptvc.prompts.caching import SYSTEM, Breakpoint
from tests.helpers import renderer

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
