"""The published JSON Schemas say what the loaders accept: same keys, same assertion types, and
every golden file and prompt in this repository (and the scaffold) is valid under them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from promptvc.commands.schema import schema_text
from promptvc.evals.assertions import ASSERT_KEYS, KNOWN_TYPES, NEGATABLE_TYPES, NEGATED_ALIASES
from promptvc.evals.goldens import CASE_KEYS, PROVIDERS, SET_KEYS
from promptvc.prompts.file import META_KEYS, split_front_matter
from promptvc.prompts.tiers import API_PARAMS

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads(schema_text("golden-set"))
FRONT = json.loads(schema_text("prompt-front-matter"))


def test_the_schemas_name_exactly_what_the_loaders_accept():
    assert set(GOLDEN["properties"]) == SET_KEYS
    assert set(GOLDEN["$defs"]["case"]["properties"]) == CASE_KEYS
    assertion = GOLDEN["$defs"]["assertion"]
    assert set(assertion["properties"]) == ASSERT_KEYS
    names = KNOWN_TYPES | set(NEGATED_ALIASES)
    negatable = NEGATABLE_TYPES | set(NEGATED_ALIASES)
    assert set(assertion["properties"]["type"]["enum"]) == names | {f"not-{t}" for t in negatable}
    assert tuple(GOLDEN["properties"]["provider"]["enum"]) == PROVIDERS
    assert set(FRONT["properties"]) == META_KEYS | set(API_PARAMS)


GOLDEN_FILES = sorted([*ROOT.glob("evals/*.yaml"), *ROOT.glob("promptvc/scaffold/evals/*.yaml")])
PROMPT_FILES = sorted(
    [
        p
        for p in [
            *ROOT.glob("prompts/**/*.jinja"),
            *ROOT.glob("promptvc/scaffold/prompts/**/*.jinja"),
        ]
        if "partials" not in p.parts
    ]
)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_golden_file_here_is_valid(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), GOLDEN)


@pytest.mark.parametrize("path", PROMPT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_prompt_here_has_valid_front_matter(path):
    front, _body, _line = split_front_matter(path.read_text(), str(path))
    jsonschema.validate(yaml.safe_load(front) or {}, FRONT)


@pytest.mark.parametrize(
    "document",
    [
        {"prompt": "p", "cases": [{"id": "a", "assert": [{"type": "contain", "value": "x"}]}]},
        {"prompt": "p", "treshold": 0.9},
        {
            "prompt": "p",
            "cases": [{"id": "a", "assert": [{"type": "llm-rubric", "value": "x", "min": 6}]}],
        },
        {
            "prompt": "p",
            "cases": [{"id": "a", "assert": [{"type": "python", "value": "/abs/mod:check"}]}],
        },
        {"prompt": "p", "cases": "cases.txt"},
    ],
)
def test_mistakes_are_invalid(document):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, GOLDEN)


def test_schema_command_prints_it(cli):
    code, out, _ = cli("schema", "golden-set")
    assert code == 0 and json.loads(out) == GOLDEN
