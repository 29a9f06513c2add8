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
    proc = subprocess.run(
        [sys.executable, "-m", "promptvc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
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
        support_repo.write(
            "prompts/support/answer.jinja",
            "---\ndescription: x\nmetadata:\n" + billion_laughs("  ") + "---\nhi\n",
        )
        args, expected = ["render", "support/answer"], "prompts/support/answer.jinja:"
    elif where == "tiers.yaml":
        support_repo.write(
            "prompts/tiers.yaml", bomb + "fast: {model: claude-haiku-4-5, bomb: *l9}\n"
        )
        args, expected = ["render", "support/answer"], "prompts/tiers.yaml:"
    elif where == "examples":
        support_repo.write(
            "prompts/examples/support.yaml",
            "- bomb:\n" + billion_laughs("    ") + "  question: q\n  answer: a\n",
        )
        args, expected = (
            ["render", "support/answer", "--case", "refund-window"],
            "prompts/examples/support.yaml:",
        )
    else:
        support_repo.write(
            "evals/support-answer.yaml",
            bomb + GOLDEN.replace("vars: {policy:", "vars: {bomb: *l9, policy:"),
        )
        args, expected = ["eval"], "evals/support-answer.yaml:"
    result = run_bounded(args, support_repo.root)
    assert_one_line(result, expected)
    assert "aliases expand the document past 100,000 extra nodes" in result[2]


def test_aliases_in_moderation_and_merge_keys_still_load(support_repo):
    from promptvc.yamlfile import parse_yaml

    text = "base: &b {model: m, max_tokens: 5}\n" + "".join(
        f"t{i}: {{<<: *b, temperature: 0}}\n" for i in range(500)
    )
    data = parse_yaml(text, "prompts/tiers.yaml")
    assert data["t499"] == {"model": "m", "max_tokens": 5, "temperature": 0}


def test_a_recursive_alias_is_refused(support_repo):
    from promptvc.errors import UserError
    from promptvc.yamlfile import parse_yaml

    with pytest.raises(
        UserError, match=r"^x.yaml:1: invalid YAML: an alias refers to a node that contains it"
    ):
        parse_yaml("a: &a [1, *a]\n", "x.yaml")


def test_history_skips_a_commit_whose_tiers_are_a_bomb_and_recovers(support_repo, cli):
    support_repo.write(
        "prompts/tiers.yaml", billion_laughs() + "fast: {model: claude-haiku-4-5, bomb: *l9}\n"
    )
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


@pytest.mark.parametrize(
    "toml, expected",
    [
        (
            "[gate]\nmax_drop = 'x'\n",
            "promptvc.toml:2: [gate] max_drop must be a number from 0 to 1, not 'x'",
        ),
        ("gate = 1\n", "promptvc.toml:1: 'gate' must be a table ([gate])"),
        (
            "[eval]\nconcurrency = 2\nmax_retries = -5\n",
            "promptvc.toml:3: [eval] max_retries must be an integer from 0, not -5",
        ),
        (
            "[eval]\nspend_cap = 'x'\n",
            "promptvc.toml:2: [eval] spend_cap must be an amount in USD from 0, not 'x'",
        ),
        (
            "[eval]\ntimeout = 'abc'\n",
            "promptvc.toml:2: [eval] timeout must be a positive number of seconds, not 'abc'",
        ),
        (
            "[eval]\ntimeout = true\n",
            "promptvc.toml:2: [eval] timeout must be a positive number of seconds, not True",
        ),
        (
            "[gate]\noffline = 'sometimes'\n",
            'promptvc.toml:2: [gate] offline must be "warn" or "block", not \'sometimes\'',
        ),
        (
            "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
            "promptvc.toml: invalid TOML: nested too deeply",
        ),
    ],
    ids=[
        "max_drop",
        "gate=1",
        "max_retries",
        "spend_cap",
        "timeout",
        "timeout-bool",
        "offline",
        "deep",
    ],
)
def test_config_typos_are_one_line(support_repo, cli, toml, expected):
    support_repo.write("promptvc.toml", toml, dedent=False)
    code, _out, err = cli("render", "support/answer", "--case", "refund-window")
    assert code == 2 and err == f"promptvc: {expected}\n"


def test_valid_config_values_still_load(support_repo):
    from promptvc.settings import load_settings

    support_repo.write(
        "promptvc.toml",
        "[eval]\ntimeout = 5\nspend_cap = 0\nmax_retries = 0\n"
        "[gate]\nmax_drop = 0.1\nblock_on_flip = 'always'\noffline = 'block'\n",
    )
    settings = load_settings(support_repo.root)
    assert (settings.timeout, settings.spend_cap, settings.gate.block_on_flip) == (5, 0, "always")


def test_jsonl_nested_too_deeply(support_repo, cli):
    support_repo.write(
        "evals/cases/deep.jsonl",
        '{"question": "q"}\n{"question": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
        dedent=False,
    )
    support_repo.write(
        "evals/support-answer.yaml",
        "prompt: support/answer\nvars: {policy: P}\ncases: cases/deep.jsonl\n",
    )
    code, _out, err = cli("eval")
    assert code == 2 and "evals/cases/deep.jsonl:2: invalid JSON: nested too deeply" in err
    assert "Traceback" not in err


def set_with_csv(repo, csv_text: str) -> None:
    repo.write("evals/cases/cases.csv", csv_text, dedent=False)
    repo.write(
        "evals/support-answer.yaml",
        "prompt: support/answer\nvars: {policy: P}\ncases: cases/cases.csv\n",
    )


def test_a_csv_field_longer_than_the_csv_default_loads(support_repo):
    from tests.helpers import goldens

    document = "word " * 40_000  # 200,000 characters, past the csv module's 131,072
    set_with_csv(support_repo, f'id,question\nlong,"{document}"\n')
    assert goldens(support_repo)["support-answer"].cases[0].vars["question"] == document


@pytest.mark.parametrize(
    "csv_text, expected",
    [
        (
            'id,question\none,"fine"\ntwo,"never closed\nthree,q\n',
            "evals/cases/cases.csv:3: invalid CSV: a quoted field is never closed",
        ),
        (
            "id,question\none,q\ntwo,q,extra\n",
            "evals/cases/cases.csv:3: row has 3 cells, the header has 2",
        ),
        (
            'id,question\none,"x"y\n',
            "evals/cases/cases.csv:2: invalid CSV: ',' expected after '\"'",
        ),
    ],
    ids=["unterminated", "extra-cells", "junk-after-quote"],
)
def test_malformed_csv_rows_are_errors_with_their_line(support_repo, cli, csv_text, expected):
    set_with_csv(support_repo, csv_text)
    code, _out, err = cli("eval")
    assert code == 2 and f"promptvc: {expected}\n" in err


# -- templates nested past the parser's stack ----------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["(" * 100 + "question" + ")" * 100, " + ".join(["question"] * 1000)],
    ids=["parentheses", "plus-chain"],
)
def test_deeply_nested_templates_are_one_line_and_history_survives_them(
    support_repo, cli, expression
):
    support_repo.write(
        "prompts/support/answer.jinja", ANSWER.replace("{{ question }}", f"{{{{ {expression} }}}}")
    )
    support_repo.commit("nest deeply")
    expected = "prompts/support/answer.jinja: template nests too deeply"
    assert_one_line(
        run_bounded(["render", "support/answer", "--case", "refund-window"], support_repo.root),
        expected,
    )
    code, _out, err = cli("eval")  # not a memory bomb: in-process is safe, and faster
    assert code == 2 and expected in err and "Traceback" not in err
    code, out, err = cli("diff", "HEAD~1")
    assert code == 0 and f"error: {expected}" in out and err == ""
    code, out, err = cli("log")
    assert code == 0 and "nest deeply" in out and "Traceback" not in err


# -- template resource use -------------------------------------------------------------------------

S = "{% set s = 'a' * 1000000 %}"
TEMPLATE_BOMBS = {
    # name: (template, what the one line says)
    "repeat": ("{{ 'a' * 10**9 }}", "repeating with * would make 1,000,000,000 characters"),
    "repeat-reversed": (
        "{{ 10**9 * 'a' }}",
        "repeating with * would make 1,000,000,000 characters",
    ),
    "list-repeat": (
        "{{ ([1] * 10**9)|length }}",
        "repeating a list with * would make 1,000,000,000 items",
    ),
    "nested-list-repeat": ("{{ ([[1] * 1000] * 1000)|string }}", "|string would make"),
    "center": ("{{ 'a'|center(10**9) }}", "|center width 1,000,000,000 is past the render cap"),
    "ljust": ("{{ 'a'.ljust(10**9) }}", "ljust() width 1,000,000,000 is past the render cap"),
    "format-width": (
        "{{ '{:>999999999}'.format(1) }}",
        "a format width 999,999,999 is past the render cap",
    ),
    "format-nested-width": (
        "{{ '{:{w}}'.format(1, w=10**9) }}",
        "a format width 1,000,000,000 is past",
    ),
    "percent": ("{{ '%999999999s' % 'x' }}", "a % format width 999,999,999 is past the render cap"),
    "percent-star": (
        "{{ '%*s' % (10**9, 'x') }}",
        "a '*' width 1,000,000,000 is past the render cap",
    ),
    "format-filter": ("{{ '%999999999s'|format('x') }}", "a % format width 999,999,999 is past"),
    "replace": (
        "{% set s = 'a' * 100000 %}{{ s|replace('a', s) }}",
        "|replace would make 10,000,000,000",
    ),
    "replace-markup": (
        "{% set s = ('a' * 100000)|safe %}{{ s|replace('a', 'b' * 1000) }}",
        "|replace would make",
    ),
    "replace-method-markup": (
        "{{ (('a' * 100000)|safe).replace('a', 'b' * 1000) }}",
        "replace() would make",
    ),
    "replace-chain": (
        "{{ ('a' * 1000)" + "|replace('a', 'aaaaaaaaaa')" * 4 + " }}",
        "|replace would make 10,000,000",
    ),
    "indent": ("{{ ('\\n' * 1000)|indent(10**6) }}", "|indent would make"),
    "indent-width": ("{{ 'a'|indent(10**9) }}", "|indent width 1,000,000,000 is past"),
    "wordwrap": (
        "{{ ('a ' * 400000)|wordwrap(1, wrapstring='x' * 1000) }}",
        "|wordwrap would make",
    ),
    "slice": ("{{ [1]|slice(10**9)|list|length }}", "|slice count 1,000,000,000 is past its limit"),
    "batch": (
        "{{ [1]|batch(10**9, 0)|list|length }}",
        "|batch size 1,000,000,000 is past its limit",
    ),
    "tilde-doubling": (
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s|length }}"
        ),
        "joining with ~ would make 1,048,576 characters",
    ),
    "plus-doubling": (
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
            "{% endfor %}{{ ns.s|length }}"
        ),
        "joining with + would make 1,048,576 characters",
    ),
    "nested-range": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "rendering takes longer than 0.25 s",
    ),
    "exponential-macro": (
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}"
        ),
        "rendering takes longer than 0.25 s",
    ),
    "endless-macro": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion too deep"),
    "power": ("{% set n = 9 %}{{ n ** (n ** 9) }}", "a power past 65,536 bits"),
    "squaring": (
        "{% set ns = namespace(x=3) %}{% for i in range(64) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
        "a product past 65,536 bits",
    ),
    "lipsum": ("{{ lipsum(n=10**7) }}", "lipsum() would make"),
    "join-filter": (S + "{{ [s, s, s, s, s, s, s, s, s, s]|join }}", "|join would make"),
    "join-method": (S + "{{ ''.join([s, s, s, s, s, s, s, s, s, s]) }}", "join() would make"),
    "print-a-list": (S + "{{ [s, s, s, s, s, s, s, s, s, s] }}", "printing a value would make"),
    "tilde-a-list": (S + "{{ 'x' ~ [s, s, s, s, s, s, s, s, s, s] }}", "joining with ~ would make"),
    "tojson": (S + "{{ [s, s, s, s, s, s, s, s, s, s]|tojson }}", "|tojson would make"),
    "many-allowed-steps": (
        "{{ range(1000)|map('center', 1000000)|list|length }}",
        "rendering builds more than 16,000,000 characters of text",
    ),
    "block-set": (
        S + "{% set x %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endset %}{{ x|length }}",
        "rendering builds more than 16,000,000 characters of text",
    ),
    "macro-body": (
        S
        + "{% macro m() %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endmacro %}{{ m()|length }}",
        "rendering builds more than 16,000,000 characters of text",
    ),
    "literal-block": (
        "{% set x %}{% for i in range(100000) %}" + "0123456789" * 10 + "{% endfor %}{% endset %}",
        "the text of a macro or block would make",
    ),
    "many-lists": (
        "{% set s = 'a' * 999999 %}" + "{% set x = s|batch(1)|list %}" * 3,
        "rendering builds more than 16,000,000 characters of text and lists",
    ),
    "many-splits": (
        "{% set s = 'a,' * 499999 %}" + "{% set x = s.split(',') %}" * 5,
        "rendering builds more than 16,000,000 characters of text and lists",
    ),
    "expandtabs": ("{{ ('\\t' * 100000).expandtabs(100000) }}", "expandtabs() would make"),
    "translate": ("{{ ('a' * 10000).translate({97: 'b' * 100000}) }}", "translate() would make"),
}

_RENDER_ALL = """
import json, resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
from promptvc.errors import UserError
from promptvc.git.repo import GitRepo
from promptvc.git.snapshot import WORKTREE, open_snapshot
from promptvc.prompts.render import Renderer
renderer = Renderer(open_snapshot(GitRepo(Path.cwd()), WORKTREE, ["prompts"]))
results = {{}}
for name in json.loads(sys.argv[1]):
    started = time.monotonic()
    try:
        renderer.render("bombs/" + name, {{}})
        message = "rendered"
    except UserError as exc:
        message = str(exc)
    except BaseException as exc:
        message = f"crashed: {{type(exc).__name__}}: {{exc}}"
    results[name] = (message, time.monotonic() - started)
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def template_bombs(tmp_path_factory):
    """Every payload rendered once, in one child process under the memory limit (deadline lowered to stay fast)."""
    import json

    root = tmp_path_factory.mktemp("bombs")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for name, (template, _expected) in TEMPLATE_BOMBS.items():
        (root / "prompts/bombs").mkdir(parents=True, exist_ok=True)
        (root / f"prompts/bombs/{name}.jinja").write_text("line one\n" + template + "\n")
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER_ALL.format(memory=MEMORY), json.dumps(list(TEMPLATE_BOMBS))],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PROMPTVC_RENDER_DEADLINE": "0.25"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", list(TEMPLATE_BOMBS))
def test_template_bombs_are_one_line_fast_and_small(template_bombs, name):
    message, seconds = template_bombs[name]
    assert message.startswith(f"prompts/bombs/{name}.jinja:2: "), message
    assert TEMPLATE_BOMBS[name][1] in message and "\n" not in message
    assert seconds < SECONDS


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{{ 'a' * 10**9 }}", "repeating with * would make 1,000,000,000 characters"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "rendering takes longer than 1 s",
        ),
    ],
    ids=["memory", "time"],
)
def test_template_bombs_at_the_defaults_through_the_cli(support_repo, template, expected):
    support_repo.write("prompts/bomb.jinja", "hello\n" + template + "\n")
    assert_one_line(
        run_bounded(["render", "bomb"], support_repo.root), f"prompts/bomb.jinja:2: {expected}"
    )


def test_the_render_cap_is_a_knob_for_the_user_not_the_repository(git_repo, monkeypatch):
    from promptvc.errors import UserError
    from tests.helpers import renderer

    git_repo.write("prompts/p.jinja", "{{ 'a' * 2000 }}\n")
    assert len(renderer(git_repo).render("p", {}).messages[0].content) == 2000
    monkeypatch.setenv("PROMPTVC_RENDER_MAX_CHARS", "1000")
    with pytest.raises(
        UserError, match="would make 2,000 characters or more; the render cap is 1,000"
    ):
        renderer(git_repo).render("p", {})


def test_a_bad_limit_in_the_environment_is_one_line(support_repo, cli, monkeypatch):
    monkeypatch.setenv("PROMPTVC_RENDER_DEADLINE", "soon")
    code, _out, err = cli("render", "support/answer", "--case", "refund-window")
    assert (
        code == 2
        and err == "promptvc: PROMPTVC_RENDER_DEADLINE must be a positive number, not 'soon'\n"
    )


def test_ordinary_templates_render_as_before_in_the_bounded_sandbox(git_repo):
    from tests.helpers import renderer

    git_repo.write(
        "prompts/p.jinja",
        """\
        {% set ns = namespace(total=0) %}
        {% for ex in examples %}{% set ns.total = ns.total + ex.n %}{{ loop.index }}. {{ ex.q|upper|center(9) }}|{{ '%5.1f' % ex.n }}|{{ '{:>4}'.format(ex.n) }}
        {% endfor %}
        {{ '-' * 10 }} {{ ns.total }} {{ [1, 2] + [3] }} {{ 2 ** 10 }} {{ 'a,b'|replace(',', ' & ') }} {{ range(5)|batch(2)|list }}
        {{ ['x', 'y']|join(', ') ~ '!' }} {{ 'Dear ' + 'you' }} {{ lipsum(1, html=False)|length > 10 }} {{ 7 % 3 }}
        """,
    )
    git_repo.write("prompts/examples/e.yaml", "- {q: ab, n: 1}\n- {q: cd, n: 2.5}\n")
    git_repo.write(
        "prompts/p.jinja",
        "---\nexamples: examples/e.yaml\n---\n" + (git_repo.root / "prompts/p.jinja").read_text(),
    )
    text = renderer(git_repo).render("p", {}).messages[0].content
    assert text == (
        "1.     AB   |  1.0|   1\n2.     CD   |  2.5| 2.5\n"
        "---------- 3.5 [1, 2, 3] 1024 a & b [[0, 1], [2, 3], [4]]\nx, y! Dear you True 1"
    )


def test_a_syntax_error_speaks_of_the_users_text(git_repo):
    from promptvc.errors import UserError
    from tests.helpers import renderer

    git_repo.write(
        "prompts/p.jinja", "---\ndescription: x\n---\nsystem:\nhi {{ foo(\nuser:\n1) }}\n"
    )
    with pytest.raises(UserError) as err:
        renderer(git_repo).render("p", {})
    assert str(err.value) == "prompts/p.jinja:6: template syntax error: expected token ',', got ':'"


def test_a_refused_include_names_the_file_that_holds_it(git_repo):
    from promptvc.errors import UserError
    from tests.helpers import renderer

    git_repo.write("prompts/p.jinja", "hello\n{% include 'partials/inc.jinja' %}\n")
    git_repo.write("prompts/partials/inc.jinja", "one\ntwo\n{% include '../../etc/passwd' %}\n")
    with pytest.raises(UserError) as err:
        renderer(git_repo).render("p", {})
    assert (
        str(err.value)
        == "prompts/partials/inc.jinja:3: include '../../etc/passwd' is outside prompts/"
    )


@pytest.mark.parametrize(
    "schema, expected",
    [
        (
            billion_laughs(),
            "invalid JSON Schema: invalid YAML: aliases expand the document past 100,000 extra nodes",
        ),
        ("type: [unclosed\n", "invalid JSON Schema: invalid YAML"),
    ],
    ids=["alias-bomb", "broken"],
)
def test_a_json_schema_written_as_yaml_text_is_read_as_boundedly_as_any_yaml(
    support_repo, schema, expected
):
    import json

    golden = GOLDEN.replace(
        '{type: contains, value: "30 days"}', f"{{type: is-json, value: {json.dumps(schema)}}}"
    )
    support_repo.write("evals/support-answer.yaml", golden)
    code, _out, err, seconds = run_bounded(["eval"], support_repo.root)
    assert code == 2 and expected in err and "Traceback" not in err and seconds < SECONDS, err


def test_the_tui_model_reports_a_skipped_commit(support_repo):
    from promptvc.tui.model import HistoryBrowser
    from promptvc.workspace import Workspace

    support_repo.write(
        "prompts/tiers.yaml", billion_laughs() + "fast: {model: claude-haiku-4-5, bomb: *l9}\n"
    )
    bad = support_repo.commit("a bomb in tiers.yaml")
    browser = HistoryBrowser(Workspace.open())
    points = browser.commits()
    assert points[0].commit.sha == bad and points[0].sets == {}
    assert browser.warnings == [
        (
            f"skipped commit {bad[:7]}: prompts/tiers.yaml:1: invalid YAML: "
            "aliases expand the document past 100,000 extra nodes"
        )
    ]


def test_the_built_in_judge_bounds_a_huge_model_output(support_repo, monkeypatch):
    from promptvc.errors import UserError
    from promptvc.prompts.judge import render_judge
    from tests.helpers import renderer

    monkeypatch.setenv("PROMPTVC_RENDER_MAX_CHARS", "1000")
    with pytest.raises(UserError, match="^the built-in judge's prompt: .*the render cap is 1,000"):
        render_judge(renderer(support_repo), "Says no", "x" * 5000, {})
    assert "Says no" in render_judge(renderer(support_repo), "Says no", "fine", {}).text()


def test_joining_many_short_strings_up_to_the_cap_is_allowed(git_repo, monkeypatch):
    from tests.helpers import renderer

    monkeypatch.setenv("PROMPTVC_RENDER_MAX_CHARS", "1000")
    git_repo.write("prompts/p.jinja", "{{ (['ab'] * 400)|join }}{{ ''.join(['cd'] * 99) }}\n")
    assert len(renderer(git_repo).render("p", {}).messages[0].content) == 998
