import json

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenCatalog
from promptvc.evals.header import read_header
from promptvc.git.repo import GitRepo as Git
from promptvc.git.snapshot import WORKTREE, open_snapshot
from tests.helpers import goldens
from tests.model_server import last_user_text


def test_cases_from_jsonl_and_csv_with_hashed_ids(support_repo):
    support_repo.write(
        "evals/cases/a.jsonl",
        '{"id": "one", "vars": {"question": "q1"}, "assert": [{"type": "contains", "value": "x"}]}\n'
        '{"question": "q2"}\n',
    )
    support_repo.write(
        "evals/from-jsonl.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/a.jsonl\n"
    )
    support_repo.write(
        "evals/cases/b.csv", "question,__expected\nq3,icontains: days\nq4,exactly this\n"
    )
    support_repo.write(
        "evals/from-csv.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/b.csv\n"
    )
    sets = goldens(support_repo)
    jsonl = sets["from-jsonl"]
    assert [c.id for c in jsonl.cases][0] == "one" and jsonl.cases[1].id.startswith("c-")
    assert jsonl.cases[1].vars == {"policy": "P", "question": "q2"}
    csv = sets["from-csv"]
    assert [a.type for c in csv.cases for a in c.asserts] == ["icontains", "equals"]
    # the id comes from the vars, never the row number: reordering rows keeps ids
    support_repo.write(
        "evals/cases/b.csv", "question,__expected\nq4,exactly this\nq3,icontains: days\n"
    )
    assert {c.id for c in goldens(support_repo)["from-csv"].cases} == {c.id for c in csv.cases}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "prompt: support/answer\ncases:\n  - id: a\n    vars: [unclosed\n",
            r"^evals/bad.yaml:[45]: invalid YAML",
        ),
        (
            "prompt: support/answer\nthreshold: 2\n",
            r"^evals/bad.yaml:2: threshold must be a number from 0 to 1",
        ),
        ("prompt: support/answer\nprovidr: echo\n", r"^evals/bad.yaml:2: unknown key 'providr'"),
        ("cases: []\n", "missing 'prompt: NAME'"),
        (
            "prompt: support/answer\ncases:\n  - id: a\n  - id: a\n",
            r"^evals/bad.yaml:4: duplicate case id 'a'",
        ),
        ("prompt: support/answer\ncases: nope.jsonl\n", "cases file 'nope.jsonl' not found"),
    ],
)
def test_bad_golden_files_name_file_and_line(support_repo, text, message):
    support_repo.write("evals/bad.yaml", text)
    with pytest.raises(UserError, match=message):
        goldens(support_repo)


CASES_YAML = """\
prompt: support/answer
vars: {policy: P}
cases:
  - id: one
    vars: {question: q1}
    assert:
      - {type: contains, value: x}
  - id: two
    vars: {question: q2}
    assert:
      - type: icontains
        value: y
      - type: contain
        value: z
"""


@pytest.mark.parametrize(
    "text, message",
    [
        # the offending case's own line, never "case 3"
        (
            CASES_YAML,
            r"^evals/bad.yaml:13: case 'two': unknown assertion type 'contain' \(did you mean 'contains'",
        ),
        (
            CASES_YAML.replace("type: contain\n", "type: not-contain\n"),
            r":13: .*did you mean 'not-contains'",
        ),
        (
            CASES_YAML.replace("  - id: two", "  - id: one"),
            r"^evals/bad.yaml:8: duplicate case id 'one'",
        ),
        (
            CASES_YAML.replace("        value: y", "        value: y\n        treshold: 0.5"),
            r"^evals/bad.yaml:13: case 'two': assertion has unknown key 'treshold' \(did you mean 'threshold'\?\)",
        ),
        (
            CASES_YAML.replace("    vars: {question: q2}", "    varz: {question: q2}"),
            r"^evals/bad.yaml:9: case has unknown key 'varz' \(did you mean 'vars'\?\)",
        ),
        (
            CASES_YAML.replace("  - id: two", "  - 5\n  - id: two"),
            r"^evals/bad.yaml:8: a case must be a mapping",
        ),
        (
            "prompt: support/answer\ntreshold: 0.5\n",
            r"^evals/bad.yaml:2: unknown key 'treshold' \(did you mean 'threshold'\?\)",
        ),
        (
            "prompt: support/answer\nassert:\n  - {type: max-length, value: 9}\n  - {type: regexp, value: a}\ncases: []\n",
            r"^evals/bad.yaml:4: set-level assert: unknown assertion type 'regexp' \(did you mean 'regex'",
        ),
        (
            "prompt: support/answer\ncases:\n  - id: j\n    assert:\n      - type: llm-rubric\n        value: polite\n"
            "        min: 6\n",
            r"^evals/bad.yaml:7: case 'j': llm-rubric: min must be a whole number from 1 to 5",
        ),
        (
            "prompt: support/answer\ncases:\n  - id: j\n    assert: [{type: llm-rubric, value: polite, min: 2.5}]\n",
            r"^evals/bad.yaml:4: .*min must be a whole number",
        ),
    ],
)
def test_golden_errors_point_at_the_offending_line(support_repo, text, message):
    support_repo.write("evals/bad.yaml", text)
    with pytest.raises(UserError, match=message):
        goldens(support_repo)


def test_case_file_errors_give_the_row_line(support_repo):
    support_repo.write(
        "evals/bad.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/c.jsonl\n"
    )
    support_repo.write(
        "evals/cases/c.jsonl",
        '{"id": "a", "vars": {"question": "q"}}\n\n'
        '{"id": "b", "vars": {}, "assert": [{"type": "icontain", "value": "x"}]}\n',
    )
    with pytest.raises(
        UserError,
        match=r"^evals/cases/c.jsonl:3: case 'b': unknown assertion type 'icontain' "
        r"\(did you mean 'icontains'",
    ):
        goldens(support_repo)
    support_repo.write(
        "evals/cases/c.jsonl", '{"id": "a", "vars": {"question": "q"}}\n{"id": "a", "vars": {}}\n'
    )
    with pytest.raises(UserError, match=r"^evals/cases/c.jsonl:2: duplicate case id 'a'"):
        goldens(support_repo)
    support_repo.write(
        "evals/bad.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/c.csv\n"
    )
    support_repo.write("evals/cases/c.csv", 'id,question\na,"two\nlines"\nb,q\na,again\n')
    with pytest.raises(UserError, match=r"^evals/cases/c.csv:5: duplicate case id 'a'"):
        goldens(support_repo)


@pytest.mark.parametrize("cases", ["../prompts/cases.jsonl", "/etc/cases.jsonl", "../cases.jsonl"])
def test_a_cases_file_outside_evals_is_refused(support_repo, cases):
    support_repo.write("prompts/cases.jsonl", '{"question": "q"}\n')
    support_repo.write(
        "evals/outside.yaml", f"prompt: support/answer\nvars: {{policy: P}}\ncases: {cases}\n"
    )
    with pytest.raises(
        UserError, match=rf"^evals/outside.yaml:3: cases file '{cases}' is outside evals/"
    ):
        goldens(support_repo)


def test_catalog_reads_headers_without_parsing(support_repo):
    support_repo.write(
        "evals/other.yaml", "id: custom-id  # a comment\nprompt: 'support/answer'\ncases: []\n"
    )
    catalog = GoldenCatalog(
        open_snapshot(Git(support_repo.root), WORKTREE, ["prompts", "evals"]), "evals"
    )
    assert catalog.header("evals/other.yaml") == ("custom-id", "support/answer")
    assert not catalog._loaded
    assert {g.id for g in catalog.naming({"support/answer"})} == {"support-answer", "custom-id"}


def test_catalog_reads_an_escaped_prompt_name_as_yaml_does(support_repo):
    # A YAML escape spells the same name: the set is found by its prompt, so its prompt's changes are gated.
    support_repo.write(
        "evals/escaped.yaml", 'prompt: "support\\/answer"\nid: "esc\\x61ped"\ncases: []\n'
    )
    catalog = GoldenCatalog(
        open_snapshot(Git(support_repo.root), WORKTREE, ["prompts", "evals"]), "evals"
    )
    assert catalog.header("evals/escaped.yaml") == ("escaped", "support/answer")
    assert {g.id for g in catalog.naming({"support/answer"})} == {"support-answer", "escaped"}


HEADER_KEYS = [
    "prompt",
    "id",
    "threshold",
    "description",
    "vars",
    "cases",
    '"prompt"',
    "'id'",
    "? prompt",
    "&a prompt",
    "<<",
    "prompt ",
    "id ",
    "prompt_x",
    "ID",
    "!!str id",
    '"id"',
]
HEADER_VALUES = [
    "support/answer",
    "a",
    "x-1",
    '"support\\/answer"',
    '"a\\x41"',
    "'it''s'",
    '"quoted"',
    "'single'",
    "yes",
    "null",
    "~",
    "0.9",
    "123",
    "1_0",
    "2001-01-01",
    "{prompt: z}",
    "{id: q, prompt: z}",
    "[a, b]",
    "|",
    ">-",
    "*a",
    "&b x",
    "!!str x",
    '""',
    "''",
    '"a #b"',
    "a #b",
    "a#b",
    "'a #b'",
    '"a',
    "a'",
    "",
    ".inf",
    "on",
    "a: b",
    '"tab\tin"',
    "'\u2028'",
    "support/answer # comment",
]
HEADER_LINES = st.one_of(
    st.builds(
        lambda k, v: f"{k}: {v}".rstrip(),
        st.sampled_from(HEADER_KEYS),
        st.sampled_from(HEADER_VALUES),
    ),
    st.builds(
        lambda k, v: f"{k}:{v}", st.sampled_from(HEADER_KEYS), st.sampled_from(HEADER_VALUES)
    ),
    st.sampled_from(
        [
            "---",
            "...",
            "# prompt: fake",
            "",
            "  indented: x",
            "  - id: q",
            "- id: q",
            "  prompt: nested",
            "cases:",
            "  |",
            'prompt: a"',
            "{prompt: f, id: g}",
            "%YAML 1.1",
            "  text over",
            "'",
            '"',
            "\tprompt: t",
            "vars: {a: 1,",
            "  prompt: b}",
            "  # indented comment",
            " x",
        ]
    ),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(HEADER_LINES, min_size=1, max_size=8))
@example(["prompt: support/answer", "  text over"])  # a plain value continued on the next line
@example(["prompt: a", "vars: {}", "prompt: b"])  # the last of a repeated key wins
@example(['prompt: "support\\/answer"'])
@example(['description: "x', "prompt: a", '"'])  # a quoted value spanning lines
def test_fast_header_agrees_with_the_yaml_parser(lines):
    text = "\n".join(lines) + "\n"
    fast = read_header(text)
    if fast is None:
        return  # the caller parses the file
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # the set cannot be loaded at all; its error shows when it is
    assert isinstance(data, dict)
    assert data.get("prompt") == fast[1]
    assert str(data.get("id") or "default") == (fast[0] or "default")


@pytest.mark.parametrize(
    "text, header",
    [
        ("prompt: support/answer\n", (None, "support/answer")),
        (
            "# yaml-language-server: $schema=x.json\nid: custom  # a comment\nprompt: 'support/answer'\nthreshold: 0.9\n"
            "vars: {policy: P}\ncases:\n  - id: a\n",
            ("custom", "support/answer"),
        ),
        ('---\nprompt: "a/b"\ncases:\n- id: x\n', (None, "a/b")),
    ],
)
def test_fast_header_reads_the_usual_files_without_parsing(text, header):
    assert read_header(text) == header


def test_a_custom_judge_prompt_is_used_and_its_change_rescores(support_repo, model_server, cli):
    support_repo.write(
        "prompts/judge.jinja",
        "---\ntier: judge\n---\nsystem:\nHOUSE JUDGE\nuser:\n{{ rubric }}\n---\n{{ output }}\n",
    )
    support_repo.write(
        "evals/judged.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        threshold: 0.7
        vars: {policy: P, question: Q}
        cases:
          - id: j
            assert: [{type: llm-rubric, value: "is polite"}]
        """,
    )

    def rule(body):
        return "Polite enough.\nScore: 4" if "HOUSE JUDGE" in body.get("system", "") else "Hello!"

    model_server.rule = rule
    code, out, err = cli("eval", "judged", "--json")
    assert code == 0, out
    assert json.loads(out)["sets"][0]["cases"][0]["judge_reason"] == "4/5 Polite enough."
    calls = model_server.calls
    support_repo.write(
        "prompts/judge.jinja",
        "---\ntier: judge\n---\nsystem:\nHOUSE JUDGE v2\nuser:\n{{ rubric }}\n{{ output }}\n",
    )
    code, out, _ = cli("eval", "judged", "--json")
    assert (
        model_server.calls == calls + 1
    )  # only the judge is asked again; the answer came from the cache
    assert "HOUSE JUDGE v2" in model_server.requests[-1]["body"]["system"]
    code, out, _ = cli("diff")
    assert "the judge changed" in out


def test_changed_since_runs_only_affected_sets(support_repo, model_server, cli):
    support_repo.write("prompts/other.jinja", "Say hi to {{ name }}\n")
    support_repo.write(
        "evals/other.yaml",
        "prompt: other\nprovider: echo\ncases:\n  - {id: hi, vars: {name: Bo}}\n",
    )
    support_repo.commit("other")
    support_repo.write("prompts/other.jinja", "Say hello to {{ name }}\n")
    code, out, _ = cli("eval", "--changed-since", "HEAD", "--json")
    assert [s["id"] for s in json.loads(out)["sets"]] == ["other"]
    code, out, _ = cli("eval", "--changed-since", "HEAD", "support-answer")
    assert "no golden sets to evaluate (nothing changed since HEAD)" in out


def test_pre_commit_refs_are_compared_in_the_pre_push_stage(
    support_repo, model_server, cli, monkeypatch
):
    support_repo.write(
        "evals/support-answer.yaml",
        (support_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace("threshold: 0.9", "provider: anthropic\nthreshold: 0.9"),
    )
    base = support_repo.commit("model set")
    support_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    head = support_repo.commit("vague")
    model_server.rule = lambda body: "sorry" if "vague" in body.get("system", "") else "30 days"
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", head)
    code, out, _ = cli("check")
    assert code == 1 and f"{base[:7]}..{head[:7]}" in out and "pass 8/8 → 0/8" in out
    assert any("How long" in last_user_text(r["body"]) for r in model_server.requests)


def test_a_short_csv_row_leaves_its_missing_cells_out(support_repo, cli):
    support_repo.write(
        "evals/cases/short.csv", "question,policy,__expected\nq1,P1,contains: q1\nq2\n"
    )
    support_repo.write(
        "evals/short.yaml",
        "prompt: support/answer\nprovider: echo\nvars: {policy: shared}\ncases: cases/short.csv\n",
    )
    code, out, err = cli("eval", "short", "--json")
    cases = json.loads(out)["sets"][0]["cases"]
    assert "None" not in cases[1]["output"] and "shared" in cases[1]["output"], cases[1]["output"]
