"""Memory and time bombs in what a repository supplies: each is one line and exit 2, fast and small.

Every payload runs in a child process under an address-space limit and a timeout, so a bound
that stops working fails the test instead of taking the machine down with it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ANSWER, GOLDEN

MEMORY = 200 * 2**20  # the whole process: a plain `promptvc render` needs under 100 MB
SECONDS = 2.0
ROOT = Path(__file__).resolve().parent.parent


def run_bounded(args: list[str], cwd: Path, env: dict | None = None) -> tuple[int, str, str, float]:
    """`promptvc ARGS` in a child process limited to MEMORY bytes; (exit code, stdout, stderr, seconds)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "promptvc", *args], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=limit, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def assert_one_line(result, expected: str) -> None:
    code, _out, err, seconds = result
    assert code == 2, err
    assert err.count("\n") == 1 and expected in err, err
    assert seconds < SECONDS


def billion_laughs(indent: str = "") -> str:
    """The classic: ten levels of nine aliases, 10**9 strings from a dozen lines."""
    lines = [f'{indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"{indent}l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


# -- YAML alias bombs --------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["front matter", "tiers.yaml", "examples", "golden vars"])
def test_yaml_alias_bombs_are_refused_at_load(support_repo, where):
    bomb = billion_laughs()
    if where == "front matter":
        support_repo.write("prompts/support/answer.jinja", "---\ndescription: x\nmetadata:\n" + billion_laughs("  ")
                           + "---\nhi\n")
        args, expected = ["render", "support/answer"], "prompts/support/answer.jinja:"
    elif where == "tiers.yaml":
        support_repo.write("prompts/tiers.yaml", bomb + "fast: {model: claude-haiku-4-5, bomb: *l9}\n")
        args, expected = ["render", "support/answer"], "prompts/tiers.yaml:"
    elif where == "examples":
        support_repo.write("prompts/examples/support.yaml", "- bomb:\n" + billion_laughs("    ")
                           + "  question: q\n  answer: a\n")
        args, expected = ["render", "support/answer", "--case", "refund-window"], "prompts/examples/support.yaml:"
    else:
        support_repo.write("evals/support-answer.yaml", bomb + GOLDEN.replace("vars: {policy:", "vars: {bomb: *l9, policy:"))
        args, expected = ["eval"], "evals/support-answer.yaml:"
    result = run_bounded(args, support_repo.root)
    assert_one_line(result, expected)
    assert "aliases expand the document past 100,000 extra nodes" in result[2]


def test_aliases_in_moderation_and_merge_keys_still_load(support_repo):
    from promptvc.yamlfile import parse_yaml
    text = "base: &b {model: m, max_tokens: 5}\n" + "".join(f"t{i}: {{<<: *b, temperature: 0}}\n" for i in range(500))
    data = parse_yaml(text, "prompts/tiers.yaml")
    assert data["t499"] == {"model": "m", "max_tokens": 5, "temperature": 0}


def test_a_recursive_alias_is_refused(support_repo):
    from promptvc.errors import UserError
    from promptvc.yamlfile import parse_yaml
    with pytest.raises(UserError, match=r"^x.yaml:1: invalid YAML: an alias refers to a node that contains it"):
        parse_yaml("a: &a [1, *a]\n", "x.yaml")


def test_history_skips_a_commit_whose_tiers_are_a_bomb_and_recovers(support_repo, cli):
    support_repo.write("prompts/tiers.yaml", billion_laughs() + "fast: {model: claude-haiku-4-5, bomb: *l9}\n")
    bad = support_repo.commit("a bomb in tiers.yaml")
    support_repo.write("prompts/tiers.yaml", "fast: {model: claude-haiku-4-5, max_tokens: 512}\n")
    support_repo.commit("fix the tiers")
    code, out, err, seconds = run_bounded(["log"], support_repo.root)
    assert code == 0 and seconds < SECONDS, err
    assert f"skipped commit {bad[:7]}" in err and "prompts/tiers.yaml" in err
    assert "fix the tiers" in out and "support-answer" in out
    code, out, err, _ = run_bounded(["log"], support_repo.root)  # nothing poisoned: the same again
    assert code == 0 and f"skipped commit {bad[:7]}" in err


# -- input faults ------------------------------------------------------------------------------

@pytest.mark.parametrize("toml, expected", [
    ("[gate]\nmax_drop = 'x'\n", "promptvc.toml:2: [gate] max_drop must be a number from 0 to 1, not 'x'"),
    ("gate = 1\n", "promptvc.toml:1: 'gate' must be a table ([gate])"),
    ("[eval]\nconcurrency = 2\nmax_retries = -5\n", "promptvc.toml:3: [eval] max_retries must be an integer from 0, not -5"),
    ("[eval]\nspend_cap = 'x'\n", "promptvc.toml:2: [eval] spend_cap must be an amount in USD from 0, not 'x'"),
    ("[eval]\ntimeout = 'abc'\n", "promptvc.toml:2: [eval] timeout must be a positive number of seconds, not 'abc'"),
    ("[eval]\ntimeout = true\n", "promptvc.toml:2: [eval] timeout must be a positive number of seconds, not True"),
    ("[gate]\noffline = 'sometimes'\n", "promptvc.toml:2: [gate] offline must be \"warn\" or \"block\", not 'sometimes'"),
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "promptvc.toml: invalid TOML: nested too deeply"),
], ids=["max_drop", "gate=1", "max_retries", "spend_cap", "timeout", "timeout-bool", "offline", "deep"])
def test_config_typos_are_one_line(support_repo, cli, toml, expected):
    support_repo.write("promptvc.toml", toml, dedent=False)
    code, _out, err = cli("render", "support/answer", "--case", "refund-window")
    assert code == 2 and err == f"promptvc: {expected}\n"


def test_valid_config_values_still_load(support_repo):
    from promptvc.settings import load_settings
    support_repo.write("promptvc.toml", "[eval]\ntimeout = 5\nspend_cap = 0\nmax_retries = 0\n"
                                        "[gate]\nmax_drop = 0.1\nblock_on_flip = 'always'\noffline = 'block'\n")
    settings = load_settings(support_repo.root)
    assert (settings.timeout, settings.spend_cap, settings.gate.block_on_flip) == (5, 0, "always")


def test_jsonl_nested_too_deeply(support_repo, cli):
    support_repo.write("evals/cases/deep.jsonl", '{"question": "q"}\n{"question": ' + "[" * 100_000 + "]" * 100_000
                       + "}\n", dedent=False)
    support_repo.write("evals/support-answer.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/deep.jsonl\n")
    code, _out, err = cli("eval")
    assert code == 2 and "evals/cases/deep.jsonl:2: invalid JSON: nested too deeply" in err
    assert "Traceback" not in err


def set_with_csv(repo, csv_text: str) -> None:
    repo.write("evals/cases/cases.csv", csv_text, dedent=False)
    repo.write("evals/support-answer.yaml", "prompt: support/answer\nvars: {policy: P}\ncases: cases/cases.csv\n")


def test_a_csv_field_longer_than_the_csv_default_loads(support_repo):
    from tests.test_goldens import goldens
    document = "word " * 40_000  # 200,000 characters, past the csv module's 131,072
    set_with_csv(support_repo, f'id,question\nlong,"{document}"\n')
    assert goldens(support_repo)["support-answer"].cases[0].vars["question"] == document


@pytest.mark.parametrize("csv_text, expected", [
    ('id,question\none,"fine"\ntwo,"never closed\nthree,q\n', "evals/cases/cases.csv:3: invalid CSV: a quoted field is never closed"),
    ("id,question\none,q\ntwo,q,extra\n", "evals/cases/cases.csv:3: row has 3 cells, the header has 2"),
    ('id,question\none,"x"y\n', "evals/cases/cases.csv:2: invalid CSV: ',' expected after '\"'"),
], ids=["unterminated", "extra-cells", "junk-after-quote"])
def test_malformed_csv_rows_are_errors_with_their_line(support_repo, cli, csv_text, expected):
    set_with_csv(support_repo, csv_text)
    code, _out, err = cli("eval")
    assert code == 2 and f"promptvc: {expected}\n" in err


# -- templates nested past the parser's stack ----------------------------------------------------

@pytest.mark.parametrize("expression", ["(" * 100 + "question" + ")" * 100, " + ".join(["question"] * 1000)],
                         ids=["parentheses", "plus-chain"])
def test_deeply_nested_templates_are_one_line_and_history_survives_them(support_repo, expression):
    support_repo.write("prompts/support/answer.jinja", ANSWER.replace("{{ question }}", "{{ %s }}" % expression))
    support_repo.commit("nest deeply")
    expected = "prompts/support/answer.jinja: template nests too deeply"
    assert_one_line(run_bounded(["render", "support/answer", "--case", "refund-window"], support_repo.root), expected)
    code, _out, err, seconds = run_bounded(["eval"], support_repo.root)
    assert code == 2 and expected in err and "Traceback" not in err and seconds < SECONDS
    code, out, err, seconds = run_bounded(["diff", "HEAD~1"], support_repo.root)
    assert code == 0 and f"error: {expected}" in out and err == "" and seconds < SECONDS
    code, out, err, seconds = run_bounded(["log"], support_repo.root)
    assert code == 0 and "nest deeply" in out and "Traceback" not in err and seconds < SECONDS
