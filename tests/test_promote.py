"""`promptvc promote`: captured production calls become golden cases, in a real repository,
from calls made through the real anthropic SDK to the test's Messages-API server."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest

import promptvc
from promptvc.errors import UserError
from promptvc.evals.captures import parse_where, read_captures
from promptvc.evals.goldens import case_id_for
from promptvc.tracing import CAPTURE_ENV
from tests.data import answer_by_rule
from tests.helpers import goldens

POLICY = "Refunds are accepted within 30 days of delivery."


@dataclass(frozen=True)
class Provenance:
    prompt: str = "support/answer"
    commit: str = "c0ffee" * 6 + "c0ff"
    template_sha: str = "ab" * 20
    tier: str = "fast"
    bundle_hash: str | None = None


@dataclass(frozen=True)
class Request:
    """The shape of promptvc.runtime's PromptRequest."""

    system: str
    messages: list
    name: str = "support/answer"
    model: str = "claude-haiku-4-5"
    params: dict = field(default_factory=lambda: {"max_tokens": 512})
    provenance: Provenance = Provenance()

    def anthropic(self) -> dict:
        return {
            "model": self.model,
            "system": self.system,
            "messages": self.messages,
            **self.params,
        }


def ask(question: str, **extra) -> None:
    """What an application does: render, call the model through the SDK, pass the response back."""
    import anthropic

    variables = {"question": question, "policy": POLICY, **extra}
    req = Request(f"Policy: {POLICY}", [{"role": "user", "content": question}])
    with promptvc.traced(req, vars=variables) as call:
        call.record(anthropic.Anthropic().messages.create(**req.anthropic()))


@pytest.fixture
def captured(model_repo, model_server, tmp_path, monkeypatch):
    model_server.rule = answer_by_rule
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv(CAPTURE_ENV, str(path))
    return path


def golden_text(repo) -> str:
    return (repo.root / "evals/support-answer.yaml").read_text(encoding="utf-8")


def test_captured_calls_become_cases_that_eval_runs(model_repo, model_server, captured, cli):
    ask("Can I return shoes I wore? Mail jo@example.com")
    ask("Do you refund shipping?")
    before = golden_text(model_repo)
    lines = [json.loads(line) for line in captured.read_text(encoding="utf-8").splitlines()]
    assert [line["output"] for line in lines] == ["No, the window is 30 days."] * 2  # SDK Messages
    assert all(line["tokens"]["input"] > 0 and line["tokens"]["output"] > 0 for line in lines)
    assert lines[0]["vars"]["question"] == "Can I return shoes I wore? Mail [email]"

    code, out, err = cli("promote", str(captured))

    assert (code, err) == (0, "")
    assert "support-answer: 2 cases added to evals/support-answer.yaml" in out
    assert "+  - id: c-" in out and "--- a/evals/support-answer.yaml" in out  # the diff, for review
    after = golden_text(model_repo)
    assert after.startswith(before)  # appended; not a line of the user's file rewritten
    assert "jo@example.com" not in after and "[email]" in after
    cases = {c.id: c for c in goldens(model_repo)["support-answer"].cases}
    shoes = {"question": "Can I return shoes I wore? Mail [email]"}
    assert cases[case_id_for(shoes)].vars == {**shoes, "policy": POLICY}  # policy stays the set's
    assert "#   No, the window is 30 days." in after  # the output, kept as a comment
    assert "claude-haiku-4-5, commit c0ffeec0ffee" in after

    model_server.reset()
    model_server.rule = answer_by_rule
    code, out, _ = cli("eval", "support-answer")
    assert code == 0, out
    assert model_server.calls == 4
    model_repo.commit("promote two production calls")
    assert model_repo.git("status", "--porcelain") == ""


def test_a_promoted_failure_fails_until_the_prompt_is_fixed(
    model_repo, model_server, captured, cli
):
    ask("Can I return after 3 months?")  # answered "No, the window is 30 days."
    ask("Can I return after 3 months?")  # the same call again: one case

    code, out, _ = cli("promote", str(captured), "--as-failure")

    assert code == 0
    assert "1 case added" in out and "(1 already there)" in out
    assert "type: not-equals" in golden_text(model_repo)
    code, out, _ = cli("eval", "support-answer")
    assert code == 1, out  # the model still gives the answer production complained about
    model_server.rule = lambda body: "After 2 months we can no longer refund, sorry."
    assert cli("eval", "support-answer", "--no-cache")[0] == 1  # `late-return` forbids "sorry"


def test_promoting_again_adds_nothing(model_repo, captured, cli):
    ask("Do you refund shipping?")
    assert cli("promote", str(captured))[0] == 0
    after_first = golden_text(model_repo)

    code, out, _ = cli("promote", str(captured))

    assert code == 0
    assert "0 cases added to evals/support-answer.yaml (1 already there)" in out
    assert golden_text(model_repo) == after_first


def test_a_case_the_set_has_already_is_not_promoted(model_repo, captured, cli):
    ask("How long do I have to return an item?")  # the vars of the set's case `refund-window`

    code, out, _ = cli("promote", str(captured))

    assert (code, "0 cases added") == (0, "0 cases added")
    assert "(1 already there)" in out


def test_malformed_lines_are_reported_and_the_rest_promoted(model_repo, captured, cli):
    ask("Do you refund shipping?")
    good = captured.read_text(encoding="utf-8")
    captured.write_text(
        '{"prompt": "support/answer", "vars": {"question": "\n'
        + "[1, 2]\n"
        + good
        + '{"vars": {"question": "no prompt"}}\n\n'
        + '{"prompt": "support/answer", "vars": "not a mapping"}\n',
        encoding="utf-8",
    )

    code, out, err = cli("promote", str(captured))

    assert code == 2
    assert "1 case added" in out
    assert err.splitlines() == [
        f"{captured}:1: invalid JSON: Invalid control character at (not promoted)",
        f"{captured}:2: not a captured call (each line must be a JSON object) (not promoted)",
        f"{captured}:4: not a captured call (no 'prompt') (not promoted)",
        f"{captured}:6: 'vars' must be an object (not promoted)",
    ]


def test_where_picks_the_calls_to_promote(model_repo, captured, cli):
    ask("Do you refund shipping?")
    ask("Can I pay by invoice?")
    ask("Can I pay by card?")

    code, out, _ = cli(
        "promote",
        str(captured),
        "--where",
        "vars.question~^Can I pay",
        "--where",
        "tokens.output>0",
    )

    assert code == 0 and "2 cases added" in out
    text = golden_text(model_repo)
    assert "invoice" in text and "card?" in text and "shipping" not in text


def test_a_bad_where_is_one_line_and_nothing_is_written(model_repo, captured, cli):
    ask("Do you refund shipping?")
    before = golden_text(model_repo)

    for where, why in [
        ("vars.question~(", "invalid regular expression"),
        ("latency_ms>fast", "'fast' is not a number"),
        ("import os", "expected KEY=VALUE"),
    ]:
        code, out, err = cli("promote", str(captured), "--where", where)
        assert code == 2 and why in err and "Traceback" not in err
    assert golden_text(model_repo) == before


def test_calls_for_a_prompt_without_a_set_are_reported(model_repo, tmp_path, cli):
    capture = tmp_path / "calls.jsonl"
    capture.write_text(
        json.dumps({"prompt": "billing/refund", "vars": {"amount": 3}, "output": "ok"}) + "\n"
    )

    code, _, err = cli("promote", str(capture))

    assert code == 2
    assert err == (
        "1 call not promoted: prompt 'billing/refund' has no golden set: create one, or name "
        "one with --set\n"
    )


def test_set_names_the_set_and_calls_for_other_prompts_are_left(model_repo, tmp_path, cli):
    capture = tmp_path / "calls.jsonl"
    rows = [
        {"prompt": "support/answer", "vars": {"question": "Q1", "policy": POLICY}, "output": "A"},
        {"prompt": "billing/refund", "vars": {"amount": 3}, "output": "ok"},
    ]
    capture.write_text("".join(json.dumps(r) + "\n" for r in rows))

    code, out, err = cli("promote", str(capture), "--set", "support-answer")

    assert code == 2 and "1 case added" in out
    assert "prompt 'billing/refund' is not support-answer's prompt (support/answer)" in err
    assert cli("promote", str(capture), "--set", "nope")[0] == 2


def test_a_missing_capture_file_is_one_line(model_repo, cli):
    assert cli("promote", "nowhere.jsonl")[:3:2] == (2, "promptvc: nowhere.jsonl: no such file\n")


def call_line(question: str, output: str = "An answer.") -> str:
    return json.dumps(
        {"prompt": "support/answer", "vars": {"question": question}, "output": output}
    )


@pytest.mark.parametrize(
    ("golden", "expected_tail"),
    [
        pytest.param(
            "prompt: support/answer\nvars: {policy: P}\ncases:\n- id: a\n  vars: {question: A}\n"
            "\n# the set's own checks\nassert:\n  - {type: max-length, value: 500}\n",
            "# the set's own checks\nassert:\n  - {type: max-length, value: 500}\n",
            id="a list at column 0, then a comment and another key",
        ),
        pytest.param("prompt: support/answer\nvars: {policy: P}\n", "", id="no cases key yet"),
        pytest.param(
            "prompt: support/answer\ncases: []  # none yet\nthreshold: 0.5\n",
            "threshold: 0.5\n",
            id="an empty list",
        ),
        pytest.param("prompt: support/answer\ncases:\n", "", id="an empty key"),
    ],
)
def test_cases_go_where_the_list_is(support_repo, tmp_path, cli, golden, expected_tail):
    support_repo.write("evals/support-answer.yaml", golden, dedent=False)
    capture = tmp_path / "calls.jsonl"
    capture.write_text(call_line("Line one\nline two: with a colon") + "\n" + call_line("B") + "\n")

    code, out, err = cli("promote", str(capture))

    assert code == 0, err
    text = golden_text(support_repo)
    assert text.endswith(expected_tail)
    questions = [c.vars["question"] for c in goldens(support_repo)["support-answer"].cases]
    assert questions[-2:] == ["Line one\nline two: with a colon", "B"]


def test_a_one_line_list_is_refused_and_the_file_left_alone(support_repo, tmp_path, cli):
    text = "prompt: support/answer\ncases: [{id: a, vars: {question: A}}]\n"
    support_repo.write("evals/support-answer.yaml", text, dedent=False)
    capture = tmp_path / "calls.jsonl"
    capture.write_text(call_line("B") + "\n")

    code, _, err = cli("promote", str(capture))

    assert code == 2
    assert err.startswith("promptvc: evals/support-answer.yaml:2: 'cases' is written on one line")
    assert golden_text(support_repo) == text
    assert sorted(os.listdir(support_repo.root / "evals")) == ["support-answer.yaml"]


def test_a_cases_file_gets_the_new_lines(support_repo, tmp_path, cli):
    support_repo.write("evals/support-answer.yaml", "prompt: support/answer\ncases: cases.jsonl\n")
    support_repo.write("evals/cases.jsonl", '{"id": "a", "question": "A"}')  # no last newline
    capture = tmp_path / "calls.jsonl"
    capture.write_text(call_line("B", "Bee") + "\n")

    code, _, err = cli("promote", str(capture))

    assert code == 0, err
    lines = (support_repo.root / "evals/cases.jsonl").read_text().splitlines()
    assert lines[0] == '{"id": "a", "question": "A"}'
    assert json.loads(lines[1]) == {
        "id": case_id_for({"question": "B"}),
        "vars": {"question": "B"},
        "description": "captured output: Bee",
    }
    assert [c.id for c in goldens(support_repo)["support-answer"].cases][-1] == lines[1][8:20]


def test_output_with_control_characters_stays_a_comment(support_repo, tmp_path, cli):
    capture = tmp_path / "calls.jsonl"
    capture.write_text(call_line("B", "bell \x07 and\x1b[31m red") + "\n")

    assert cli("promote", str(capture))[0] == 0
    assert "#   bell \\x07 and\\x1b[31m red" in golden_text(support_repo)


@pytest.mark.parametrize(
    ("where", "admitted"),
    [
        ("prompt=support/answer", [1, 2, 3]),
        ("prompt!=support/answer", []),
        ("vars.question=B", [2]),
        ('vars.tags=["x"]', [3]),
        ("vars.question~^[AB]$", [1, 2]),
        ("vars.question!~A", [2, 3]),
        ("latency_ms>=200", [2, 3]),
        ("latency_ms<200", [1]),
        ("error=null", [1]),
        ("error!=null", [2, 3]),
        ("vars.missing=x", []),
        ("vars.missing!=x", [1, 2, 3]),
        ("output~(?i)SORRY", [3]),
    ],
)
def test_where_expressions(where, admitted):
    lines = [
        {
            "prompt": "support/answer",
            "vars": {"question": "A"},
            "latency_ms": 100,
            "error": None,
            "output": "",
        },
        {"prompt": "support/answer", "vars": {"question": "B"}, "latency_ms": 200, "output": ""},
        {
            "prompt": "support/answer",
            "vars": {"question": "C", "tags": ["x"]},
            "latency_ms": 300.5,
            "output": "Sorry",
        },
    ]
    calls, bad = read_captures(json.dumps(line) for line in lines)
    test = parse_where(where)
    assert bad == []
    assert [c.line for c in calls if test(c.record)] == admitted


def test_where_never_runs_python():
    with pytest.raises(UserError):
        parse_where("__import__('os').system('true')")


def test_a_crlf_file_with_a_bom_keeps_both(support_repo, tmp_path, cli):
    original = "\ufeffprompt: support/answer\r\ncases:\r\n  - id: a\r\n    vars: {question: A}\r\n"
    path = support_repo.root / "evals/support-answer.yaml"
    path.write_bytes(original.encode())
    path.chmod(0o640)
    capture = tmp_path / "calls.jsonl"
    capture.write_text(call_line("B") + "\n")

    assert cli("promote", str(capture))[0] == 0

    data = path.read_bytes()
    assert data.startswith(original.encode())
    assert data.count(b"\n") == data.count(b"\r\n") > 4
    assert path.stat().st_mode & 0o777 == 0o640
    assert [c.id for c in goldens(support_repo)["support-answer"].cases] == [
        "a",
        case_id_for({"question": "B"}),
    ]


def test_a_set_that_refuses_stops_every_set_before_any_file_is_written(support_repo, tmp_path, cli):
    support_repo.write("prompts/billing/refund.jinja", "---\ninputs: [amount]\n---\n{{ amount }}\n")
    refused = "prompt: billing/refund\ncases: [{id: a, vars: {amount: 1}}]\n"
    support_repo.write("evals/billing.yaml", refused, dedent=False)
    before = golden_text(support_repo)
    capture = tmp_path / "calls.jsonl"
    rows = [
        {"prompt": "support/answer", "vars": {"question": "Q"}, "output": "A"},
        {"prompt": "billing/refund", "vars": {"amount": 2}, "output": "ok"},
    ]
    capture.write_text("".join(json.dumps(r) + "\n" for r in rows))

    code, out, err = cli("promote", str(capture))

    assert code == 2 and "written on one line" in err and out == ""
    assert golden_text(support_repo) == before
    assert (support_repo.root / "evals/billing.yaml").read_text() == refused


def test_p_in_the_tuis_case_view_promotes_a_stored_output_back_into_the_set(
    model_repo, model_server, cli
):
    """A case the set has since lost (its question was reworded) comes back from the commit the
    TUI shows, with the output stored there; a case the set still has is not added twice."""
    import asyncio

    from promptvc.tui.app import PromptvcApp
    from promptvc.tui.model import HistoryBrowser
    from promptvc.tui.screens import CaseScreen
    from promptvc.workspace import Workspace

    model_server.rule = answer_by_rule
    assert cli("eval")[0] == 0
    original = golden_text(model_repo)
    model_repo.write(
        "evals/support-answer.yaml",
        original.replace("How long do I have to return an item?", "What is the return window?"),
    )
    notes: list[str] = []

    async def scenario():
        app = PromptvcApp(HistoryBrowser(Workspace.open()), live_refresh=False)
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("enter", "enter")  # the commit, its set
            await pilot.press("down", "enter")  # refund-window
            assert isinstance(app.screen, CaseScreen)
            assert app.screen.case.case_id == "refund-window"
            await pilot.press("P")  # as a failure: the stored output must not come back
            await app.workers.wait_for_complete()
            await pilot.press("p")
            await app.workers.wait_for_complete()
            await pilot.press("escape", "up", "enter")  # late-return: still in the set
            await pilot.press("p")
            await app.workers.wait_for_complete()

    asyncio.run(scenario())
    restored = case_id_for({"question": "How long do I have to return an item?"})
    assert (
        notes[0] == f"added case {restored} to evals/support-answer.yaml: review it with git diff"
    )
    assert notes[1:] == [
        "support-answer already has a case with these variables: nothing written",
        "support-answer already has a case with these variables: nothing written",
    ]
    promoted = goldens(model_repo)["support-answer"]
    case = next(c for c in promoted.cases if c.id == restored)
    assert case.vars["question"] == "How long do I have to return an item?"
    stored = answer_by_rule({"messages": [{"role": "user", "content": case.vars["question"]}]})
    assert [(a.type, a.negate, a.value) for a in case.asserts] == [("equals", True, stored)]
    assert model_repo.git("status", "--porcelain").strip() == "M evals/support-answer.yaml"
