"""Structured output (front matter `output_schema:`) and tool calls, end to end against the
Messages-API test server, and the request shapes each provider style sends."""

from __future__ import annotations

import json

import pytest

from promptvc.errors import UserError
from promptvc.evaluation.request import ModelRequest, fits_strict_mode, response_format
from promptvc.prompts.file import parse_prompt
from tests.helpers import db_rows, renderer
from tests.model_server import last_user_text

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "total": {"type": "number"}},
    "required": ["order_id", "total"],
    "additionalProperties": False,
}

EXTRACT = """\
---
description: Extract the order from an email
tier: fast
output_schema: {output_schema}
inputs: [email]
---
user:
Extract the order: {{{{ email }}}}
"""

EXTRACT_SET = """\
prompt: extract/order
provider: anthropic
cases:
  - id: plain
    vars: {email: "Order A-17, total 30 EUR"}
  - id: checked
    vars: {email: "Order B-2, total 12 EUR"}
    assert:
      - {type: is-json, value: {required: [order_id]}}
"""


def extract_repo(repo, output_schema: str, golden: str = EXTRACT_SET):
    repo.write("prompts/extract/order.jinja", EXTRACT.format(output_schema=output_schema))
    repo.write("evals/extract-order.yaml", golden)
    repo.commit("extract orders")
    return repo


def order_rule(body):
    """Answers with the order as JSON (keys out of order, spaced); a B order without its total."""
    text = last_user_text(body)
    if "B-2" in text:
        return '{"order_id": "B-2"}'
    return '{ "total": 30, "order_id": "A-17" }'


@pytest.fixture
def inline_repo(support_repo):
    return extract_repo(support_repo, json.dumps(ORDER_SCHEMA))


def test_an_inline_schema_is_asked_for_stored_as_canonical_json_and_checked(
    inline_repo, model_server, cli
):
    model_server.rule = order_rule
    code, out, err = cli("eval", "extract-order")
    assert code == 1, out + err  # B-2 lacks its total: the implicit check fails that case
    body = model_server.requests[0]["body"]
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": ORDER_SCHEMA}}
    assert "tools" not in body and "tool_choice" not in body  # no tool-as-schema trick
    rows = {r["case_id"]: r for r in db_rows(inline_repo, "SELECT * FROM results")}
    assert rows["plain"]["output"] == '{"order_id":"A-17","total":30}'
    assert rows["plain"]["passed"] == 1
    plain = json.loads(rows["plain"]["grades"])
    assert [g["label"] for g in plain] == ["is-json (output_schema)"]
    checked = json.loads(rows["checked"]["grades"])
    assert [g["label"] for g in checked] == ["is-json (output_schema)", "is-json"]
    assert (
        checked[0]["passed"] is False and "'total' is a required property" in checked[0]["reason"]
    )
    assert checked[1]["passed"] is True
    assert "is-json (output_schema)" in out
    assert "no assertions" not in err  # the implicit check is one


def test_the_schema_is_part_of_the_request_key_and_of_the_set_key(inline_repo, model_server, cli):
    model_server.rule = order_rule
    cli("eval", "extract-order")
    first = {r["set_key"] for r in db_rows(inline_repo, "SELECT set_key FROM results")}
    changed = dict(
        ORDER_SCHEMA, properties={**ORDER_SCHEMA["properties"], "note": {"type": "string"}}
    )
    inline_repo.write(
        "prompts/extract/order.jinja", EXTRACT.format(output_schema=json.dumps(changed))
    )
    model_server.reset()
    cli("eval", "extract-order")
    assert model_server.calls == 2  # a new schema is a new request: nothing cached answers it
    assert model_server.requests[0]["body"]["output_config"]["format"]["schema"] == changed
    second = {r["set_key"] for r in db_rows(inline_repo, "SELECT set_key FROM results")} - first
    assert len(second) == 1


def test_a_schema_file_is_read_from_the_snapshot_and_its_change_reaches_the_prompt(
    support_repo, model_server, cli
):
    support_repo.write("prompts/schemas/order.json", json.dumps(ORDER_SCHEMA, indent=2))
    extract_repo(support_repo, "schemas/order.json")
    support_repo.write("prompts/schemas/order.json", "{not json")  # unstaged: not what HEAD has
    model_server.rule = order_rule
    code, out, err = cli("eval", "--rev", "HEAD", "extract-order")
    assert code == 1, out + err
    assert model_server.requests[0]["body"]["output_config"]["format"]["schema"] == ORDER_SCHEMA
    code, out, err = cli("eval", "extract-order")
    assert code == 2
    assert (
        err.strip().splitlines()[-1].startswith("promptvc: prompts/schemas/order.json:1: not JSON")
    )
    support_repo.write("prompts/schemas/order.json", json.dumps({**ORDER_SCHEMA, "required": []}))
    code, out, _ = cli("diff", "--name-only")
    assert "extract/order" in out


def test_tool_calls_are_stored_as_json_and_checked_with_tool_call(support_repo, model_server, cli):
    support_repo.write(
        "prompts/support/lookup.jinja",
        """\
        ---
        tier: fast
        tools:
          - name: lookup_order
            description: Find an order
            input_schema: {type: object, properties: {order_id: {type: string}}}
        ---
        {{ question }}
        """,
    )
    support_repo.write(
        "evals/lookup.yaml",
        """\
        prompt: support/lookup
        provider: anthropic
        cases:
          - id: finds
            vars: {question: "Where is order A-17?"}
            assert:
              - {type: tool-call, value: {name: lookup_order, arguments: {order_id: A-17}}}
              - {type: tool-call, value: {name: lookup_order, schema: {required: [order_id]}}}
              - {type: tool-call-f1, value: [lookup_order]}
              - {type: not-tool-call, value: refund}
          - id: wrong-order
            vars: {question: "Where is order B-2?"}
            assert:
              - {type: tool-call, value: {name: lookup_order, arguments: {order_id: B-3}}}
        """,
    )
    support_repo.commit("look orders up")

    def rule(body):
        order = "A-17" if "A-17" in last_user_text(body) else "B-2"
        return [
            {"type": "text", "text": "Let me look that up."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "lookup_order",
                "input": {"order_id": order, "verbose": True},
            },
        ]

    model_server.rule = rule
    code, out, err = cli("eval", "lookup")
    assert code == 1, out + err
    rows = {r["case_id"]: r for r in db_rows(support_repo, "SELECT * FROM results")}
    assert json.loads(rows["finds"]["output"]) == {
        "text": "Let me look that up.",
        "tool_calls": [
            {"name": "lookup_order", "arguments": {"order_id": "A-17", "verbose": True}}
        ],
    }
    assert rows["finds"]["passed"] == 1
    grades = json.loads(rows["wrong-order"]["grades"])
    assert grades[0]["reason"] == (
        'lookup_order called (1 time), but arguments.order_id is "B-2", expected "B-3"'
    )


def test_a_pydantic_model_is_loaded_from_the_snapshot_only_when_evaluating(
    support_repo, model_server, cli
):
    support_repo.write(
        "schemas/order.py",
        """\
        from pydantic import BaseModel

        class Order(BaseModel):
            order_id: str
            total: float
        """,
    )
    extract_repo(support_repo, "schemas.order:Order")
    model_server.rule = order_rule
    code, out, err = cli("render", "extract/order", "--var", "email=x")
    assert code == 0, err
    assert "schemas.order:Order (a Pydantic model, loaded only by commands that evaluate)" in out
    code, out, err = cli("eval", "extract-order")
    assert code == 1, out + err
    schema = model_server.requests[0]["body"]["output_config"]["format"]["schema"]
    assert schema["required"] == ["order_id", "total"]
    assert schema["title"] == "Order"
    # The model's module is part of the set's key: a change to it re-runs the set.
    support_repo.write(
        "schemas/order.py",
        "from pydantic import BaseModel\n\nclass Order(BaseModel):\n    order_id: str\n",
    )
    model_server.reset()
    code, out, err = cli("eval", "extract-order")
    assert code == 0, out + err
    assert model_server.calls == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{type: objekt}", "output_schema: invalid JSON Schema"),
        ("schemas/missing.json", "output_schema file 'schemas/missing.json' not found"),
        ("nowhere.models:Order", "output_schema 'nowhere.models:Order': no nowhere/models.py"),
        (
            "schemas.broken:Order",
            "output_schema 'schemas.broken:Order' does not import: No module named 'not_a_package_anywhere'",
        ),
        ("schemas.plain:Order", "Order is not a Pydantic model"),
        ("42", "'output_schema' must be a JSON Schema"),
    ],
)
def test_a_bad_output_schema_is_one_line_and_exit_2(support_repo, model_server, cli, spec, message):
    support_repo.write("schemas/broken.py", "import not_a_package_anywhere\n")
    support_repo.write("schemas/plain.py", "class Order:\n    pass\n")
    extract_repo(support_repo, spec)
    code, out, err = cli("eval", "extract-order")
    assert code == 2, out + err
    assert message in err
    assert "Traceback" not in err
    assert model_server.calls == 0


def test_a_missing_pydantic_says_how_to_install_it(support_repo, model_server, cli, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pydantic(name, *args, **kwargs):
        if name == "pydantic" or name.startswith("pydantic."):
            raise ModuleNotFoundError("No module named 'pydantic'", name="pydantic")
        return real_import(name, *args, **kwargs)

    support_repo.write(
        "schemas/order.py",
        "from pydantic import BaseModel\n\nclass Order(BaseModel):\n    order_id: str\n",
    )
    extract_repo(support_repo, "schemas.order:Order")
    monkeypatch.setattr(builtins, "__import__", no_pydantic)
    code, out, err = cli("eval", "extract-order")
    assert code == 2, out + err
    assert "needs pydantic: pip install pydantic" in err


def test_front_matter_rejects_a_schema_that_is_not_json_schema_with_its_line():
    text = "---\ntier: fast\noutput_schema: {type: 12}\n---\nhi\n"
    with pytest.raises(UserError) as caught:
        parse_prompt(text, "x", "prompts/x.jinja", "0" * 40)
    assert caught.value.line == 3
    assert "invalid JSON Schema" in caught.value.message


def test_the_openai_request_style_asks_with_response_format():
    request = ModelRequest(
        "openai",
        "https://api.openai.com/v1",
        "gpt-4.1-mini",
        "",
        (("user", "hi"),),
        (("output_config", {"format": {"type": "json_schema", "schema": ORDER_SCHEMA}}),),
    )
    assert response_format(request) == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": ORDER_SCHEMA, "strict": True},
    }
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert not fits_strict_mode(loose)
    assert response_format(ModelRequest("openai", "", "m", "", (), ())) is None


def test_render_shows_the_schema_as_sent(inline_repo, cli):
    config = renderer(inline_repo).config("extract/order")
    assert config.output_schema is not None
    assert config.output_schema.schema == ORDER_SCHEMA
    code, out, _ = cli("render", "extract/order", "--var", "email=x", "--json")
    assert json.loads(out)["output_schema"] == {"source": "inline", "schema": ORDER_SCHEMA}


def test_diff_shows_a_schema_change_field_by_field(inline_repo, cli):
    changed = {
        "type": "object",
        "properties": {
            "order_id": {"type": "integer"},
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
        },
        "required": ["order_id", "lines"],
        "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    }
    inline_repo.write(
        "prompts/extract/order.jinja", EXTRACT.format(output_schema=json.dumps(changed))
    )
    code, out, err = cli("diff")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    at = lines.index("schema     + lines: array")
    assert lines[at + 1 : at + 3] == ["~ order_id: string → integer", "- total: number"]
    assert "lines[].sku" not in out  # a field inside a new field is not news of its own
    code, out, _ = cli("diff", "--json")
    schema = json.loads(out)["prompts"][0]["schema"]
    assert schema["old_source"] == schema["new_source"] == "inline"
    assert {"kind": "added", "field": "lines", "old": None, "new": "array"} in schema["changes"]
    code, out, _ = cli("diff", "--stat")
    assert "schema 3" in out


def test_diff_names_a_pydantic_model_without_loading_it(support_repo, cli):
    support_repo.write("schemas/order.py", "raise SystemExit('diff must not run this')\n")
    extract_repo(support_repo, "schemas.order:Order")
    support_repo.write(
        "prompts/extract/order.jinja", EXTRACT.format(output_schema="schemas.order:Invoice")
    )
    code, out, err = cli("diff")
    assert code == 0, err
    assert "output_schema  schemas.order:Order → schemas.order:Invoice" in out
    assert "read only by commands that evaluate" in out


def test_the_gate_runs_a_set_when_only_its_pydantic_model_changed(support_repo, model_server, cli):
    model = "from pydantic import BaseModel\n\n\nclass Order(BaseModel):\n    order_id: str\n"
    support_repo.write("schemas/order.py", model)
    extract_repo(
        support_repo,
        "schemas.order:Order",
        EXTRACT_SET.replace(
            "    assert:\n      - {type: is-json, value: {required: [order_id]}}\n", ""
        ),
    )
    model_server.rule = lambda body: '{"order_id": "A-17"}'
    support_repo.write("schemas/order.py", model + "    currency: str\n")
    support_repo.stage()
    code, out, err = cli("check")
    assert code == 1, out + err
    assert "extract-order" in out and "blocked:" in out
    schemas = [r["body"]["output_config"]["format"]["schema"] for r in model_server.requests]
    assert any("currency" in s["properties"] for s in schemas)
    assert any("currency" not in s["properties"] for s in schemas)  # HEAD's model, from HEAD


def test_a_schema_file_that_is_not_json_schema_names_the_file(support_repo, model_server, cli):
    support_repo.write("prompts/schemas/order.json", '{"type": "objekt"}')
    extract_repo(support_repo, "schemas/order.json")
    code, _, err = cli("eval", "extract-order")
    assert code == 2
    assert err.startswith("promptvc: prompts/schemas/order.json: invalid JSON Schema")
    assert model_server.calls == 0


def test_an_echo_set_checks_the_prompt_not_the_structure(support_repo, cli):
    extract_repo(
        support_repo,
        json.dumps(ORDER_SCHEMA),
        EXTRACT_SET.replace("provider: anthropic", "provider: echo"),
    )
    code, out, err = cli("eval", "extract-order", "--json")
    assert code == 1, out + err  # the explicit is-json fails: echo answers with the prompt
    cases = {c["id"]: c for s in json.loads(out)["sets"] for c in s["cases"]}
    assert [g["label"] for g in cases["checked"]["assertions"]] == ["is-json"]
    assert cases["plain"]["assertions"] == []
