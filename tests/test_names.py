"""Names on the command line: paths mean what they name, and a name that matches nothing is an
error with the closest names, never a silent empty answer (exit 2)."""

from __future__ import annotations

import json

from tests.helpers import db_rows


def test_paths_are_accepted_where_names_are(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    code, out, _ = cli("diff", "--json", "--", "prompts/support/answer.jinja")
    assert code == 0 and [p["name"] for p in json.loads(out)["prompts"]] == ["support/answer"]
    code, out, _ = cli(
        "render", "prompts/support/answer.jinja", "--var", "question=q", "--var", "policy=p"
    )
    assert code == 0 and "Be formal." in out
    code, out, _ = cli("eval", "evals/support-answer.yaml", "--provider", "echo", "--json")
    assert [s["id"] for s in json.loads(out)["sets"]] == ["support-answer"]


def test_a_name_that_matches_nothing_says_so(support_repo, cli):
    code, _out, err = cli("diff", "--", "support/answr")
    assert code == 2
    assert err.strip() == (
        "promptvc: no prompt or golden set matches 'support/answr' (did you mean "
        "'support/answer' or 'support-answer' or 'evals/support-answer.yaml'?)"
    )
    code, _out, err = cli("eval", "support-answr", "--provider", "echo")
    assert code == 2 and "did you mean 'support-answer' or" in err
    code, _out, err = cli("render", "support/answr")
    assert code == 2 and "did you mean 'support/answer'?" in err


def test_log_takes_a_branch_as_git_log_does(support_repo, cli):
    support_repo.git("checkout", "-q", "-b", "feature")
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    feature_head = support_repo.commit("formal tone")
    support_repo.git("checkout", "-q", "main")
    code, out, _ = cli("log", "-n", "2", "--json", "feature")
    assert code == 0 and json.loads(out)[0]["commit"] == feature_head
    code, _out, err = cli("log", "nosuch")
    assert code == 2 and "no golden set or prompt in this history matches 'nosuch'" in err


def test_log_without_commits(git_repo, cli):
    code, out, err = cli("log")
    assert code == 0 and "no commits touch" in out, err


def test_diff_takes_a_golden_file_path(support_repo, cli):
    golden = support_repo.root / "evals/support-answer.yaml"
    golden.write_text(golden.read_text().replace("30 days", "45 days"))
    code, out, _ = cli("diff", "--json", "--", "evals/support-answer.yaml")
    data = json.loads(out)
    assert code == 0 and [s["id"] for s in data["sets"]] == ["support-answer"]
    assert [s["id"] for s in data["affected_sets"]] == ["support-answer"]


def test_a_k_pattern_that_selects_nothing_is_an_error(support_repo, cli):
    code, _out, err = cli("eval", "-k", "not refund", "--provider", "echo")
    assert code == 2 and err.strip() == (
        "promptvc: -k 'not refund' matches no case (it is a substring or glob of SET/CASE)"
    )


def test_paths_in_promptvc_toml_stay_inside_the_repository(support_repo, cli):
    support_repo.write("promptvc.toml", '[paths]\nprompts = "../x"\n')
    code, _out, err = cli("eval")
    assert code == 2
    assert err.strip() == (
        "promptvc: promptvc.toml:2: [paths] prompts must be a folder inside the "
        "repository, not '../x'"
    )


def test_diff_eval_evaluates_only_the_sets_the_names_select(support_repo, cli):
    support_repo.write(
        "evals/support-answer.yaml",
        (support_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace("threshold: 0.9", "provider: echo\nthreshold: 0.9"),
    )
    support_repo.write(
        "evals/other.yaml",
        "prompt: support/answer\nprovider: echo\nvars: {policy: P, question: Q}\n"
        "cases:\n  - {id: a, assert: [{type: contains, value: P}]}\n",
    )
    support_repo.commit("two echo sets")
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    code, out, _ = cli("diff", "--eval", "--json", "--", "support-*")
    data = json.loads(out)
    assert code == 0 and [s["id"] for s in data["sets"]] == ["support-answer"]
    runs = db_rows(support_repo, "SELECT sets FROM runs")
    assert runs and all(r["sets"] == 1 for r in runs)  # the other set was never evaluated


def test_a_partial_is_not_a_prompt(support_repo, cli):
    code, _out, err = cli("render", "partials/tone")
    assert code == 2 and "a shared piece, not a prompt" in err


def test_responses_import_reads_standard_input(support_repo, cli):
    code, out, err = cli("responses", "import", "-", input='{"format": "promptvc.responses/1"}\n')
    assert code == 0 and out.startswith("imported 0 responses"), out + err
