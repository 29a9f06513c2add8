"""`python` assertions: the repository files they depend on (their modules and, through
imports, the helpers), read from the snapshot being judged, and how they end."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import git_commit

PY_GOLDEN = """\
prompt: support/answer
provider: echo
vars: {policy: "Refunds are accepted within 30 days of delivery."}
cases:
  - id: cites-policy
    vars: {question: "How long do I have to return an item?"}
    assert:
      - {type: python, value: "checks.support:cites_policy"}
"""

SUPPORT = """\
from . import words
from checks.helpers import wanted


def cites_policy(output, context):
    return wanted() in output and words.STRICT
"""

HELPERS = "def wanted():\n    return '30 days'\n"
BAD_HELPERS = "def wanted():\n    return '60 days'\n"


@pytest.fixture
def py_repo(support_repo, cli):
    support_repo.write("checks/__init__.py", "")
    support_repo.write("checks/support.py", SUPPORT)
    support_repo.write("checks/words.py", "STRICT = True\n")
    support_repo.write("checks/helpers.py", HELPERS)
    support_repo.write("evals/support-answer.yaml", PY_GOLDEN)
    support_repo.commit("a python check with helpers")
    assert cli("hook", "install")[0] == 0
    return support_repo


def set_key(rev: str) -> str:
    from promptvc.evaluation.keys import set_key as key_of
    from promptvc.git.snapshot import INDEX
    from promptvc.providers import identity_for
    from promptvc.workspace import Workspace

    ws = Workspace.open()
    snapshot = ws.snapshot(INDEX if rev == "index" else ws.resolve(rev))
    golden = ws.goldens(snapshot)[0]
    return key_of(ws.renderer(snapshot), golden, identity_for("echo", None, "auto"))


def test_a_helper_module_is_part_of_the_set_key_and_the_gate(py_repo, cli):
    code, out, err = cli("eval")
    assert code == 0, out + err
    before = set_key("HEAD")
    py_repo.write("checks/helpers.py", BAD_HELPERS)
    py_repo.stage()
    assert set_key("index") != before
    result = git_commit(py_repo)
    assert result.returncode == 1 and "blocked:" in result.stdout, result.stdout
    assert git_commit(py_repo, "--no-verify").returncode == 0
    code, out, _ = cli("eval")
    assert code == 1 and "FAIL" in out.upper()  # not the stale "passed" of the old helper


def test_a_staged_regression_in_a_helper_is_caught_despite_an_unstaged_fix(py_repo):
    py_repo.write("checks/helpers.py", BAD_HELPERS)
    py_repo.stage()
    py_repo.write("checks/helpers.py", HELPERS + "# fixed, but not staged\n")
    result = git_commit(py_repo)
    assert result.returncode == 1 and "blocked:" in result.stdout, result.stdout


def test_a_relative_import_is_gated_too(py_repo):
    py_repo.write("checks/words.py", "STRICT = False\n")
    py_repo.stage()
    result = git_commit(py_repo)
    assert result.returncode == 1 and "blocked:" in result.stdout, result.stdout


def test_an_old_commit_is_judged_by_its_own_helpers(py_repo, cli):
    py_repo.write("checks/helpers.py", BAD_HELPERS)
    py_repo.stage()
    assert git_commit(py_repo, "--no-verify").returncode == 0
    assert cli("eval", "--rev", "HEAD~1")[0] == 0
    assert cli("eval", "--rev", "HEAD")[0] == 1


def test_assertions_in_a_case_file_are_gated_when_their_module_changes(py_repo):
    py_repo.write(
        "evals/cases/support.jsonl",
        '{"id": "cites-policy", "vars": {"question": "How long?"}, '
        '"assert": [{"type": "python", "value": "checks.support:cites_policy"}]}\n',
    )
    py_repo.write(
        "evals/support-answer.yaml", PY_GOLDEN.split("cases:")[0] + "cases: cases/support.jsonl\n"
    )
    py_repo.git("add", "-A")
    assert git_commit(py_repo).returncode == 0
    py_repo.write("checks/helpers.py", BAD_HELPERS)
    py_repo.stage()
    result = git_commit(py_repo)
    assert result.returncode == 1 and "blocked:" in result.stdout, result.stdout


def test_sys_exit_in_an_assertion_is_a_case_error_and_blocks(py_repo, cli):
    # Before, SystemExit ended the hook itself with 0 and the commit went through. (An errored
    # case blocks under offline = "block" here; the gate-verdict work makes it block always.)
    py_repo.write("promptvc.toml", '[gate]\noffline = "block"\n')
    py_repo.write("checks/helpers.py", "import sys\n\n\ndef wanted():\n    sys.exit(0)\n")
    py_repo.stage()
    result = git_commit(py_repo)
    assert (
        result.returncode == 1 and "blocked:" in result.stdout and "SystemExit: 0" in result.stdout
    ), result.stdout
    out = cli("eval", "--staged")[1]
    assert (
        "1 error (cites-policy)" in out
        and "SystemExit: 0" in out
        and "1 case ·" in out
        and "1 cases" not in out
    )


def test_loading_an_assertion_leaves_sys_path_and_sys_modules_alone(py_repo, cli):
    path, modules = list(sys.path), set(sys.modules)
    assert cli("eval")[0] == 0
    assert sys.path == path
    assert not {m for m in set(sys.modules) - modules if m.startswith("checks")}


@pytest.mark.parametrize(
    "args",
    [("eval",), ("eval", "--rev", "HEAD"), ("eval", "--staged"), ("check", "--base", "HEAD~1")],
)
def test_an_absolute_module_path_is_refused_in_every_mode(py_repo, cli, tmp_path, args):
    (tmp_path / "mod.py").write_text("def check(output, context):\n    return True\n")
    py_repo.write(
        "evals/support-answer.yaml",
        PY_GOLDEN.replace("checks.support:cites_policy", f"{tmp_path}/mod:check"),
    )
    py_repo.git("add", "-A")
    py_repo.git("commit", "-q", "--no-verify", "-m", "elsewhere")
    code, out, err = cli(*args)
    assert code == 2, out + err
    assert err.count("\n") == 1 and "evals/support-answer.yaml" in err and "module:function" in err
