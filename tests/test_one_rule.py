"""Rules that used to be written twice and drifted apart: each now has one home, and these
tests hold the places that use it to the same answer."""

from __future__ import annotations

import json
import os
import subprocess


def test_a_branch_named_like_a_snapshot_is_a_branch(support_repo, cli):
    """`empty`, `index` and `worktree` are branch names like any other, never the sentinels."""
    support_repo.git("branch", "empty")
    support_repo.git("branch", "index")
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    support_repo.stage()
    code, out, _ = cli(
        "render", "support/answer", "--rev", "index", "--var", "question=q", "--var", "policy=p"
    )
    assert code == 0 and "Be warm and brief." in out and "Be formal." not in out
    code, out, _ = cli("eval", "--rev", "empty", "--provider", "echo", "--json")
    data = json.loads(out)
    assert data["snapshot"] == support_repo.head()[:7]
    assert [(s["id"], s["passed"] + s["failed"]) for s in data["sets"]] == [("support-answer", 2)]


AGREEMENT_FILES = {
    "prompts/tiers.yaml": "fast: {model: claude-haiku-4-5, max_tokens: 512}\n"
    "default: {model: claude-sonnet-4-6, max_tokens: 1024}\n"
    "judge: {model: claude-sonnet-4-6, max_tokens: 256}\n",
    "prompts/support/answer.jinja": "---\ntier: fast\nexamples: examples/support.yaml\n---\nsystem:\n"
    "{% include 'partials/tone.jinja' %}\n{% for ex in examples %}{{ ex.q }}\n"
    "{% endfor %}\nuser:\n{{ question }}\n",
    "prompts/partials/tone.jinja": "Be warm.\n",
    "prompts/examples/support.yaml": "- {q: Where is my order?}\n",
    "prompts/summary.jinja": "---\ntier: default\n---\nSummarise: {{ text }}\n",
    "prompts/judge.jinja": "Rubric: {{ rubric }}\nOutput: {{ output }}\nEnd with Score: N\n",
    "checks/cite.py": "def check(output, context):\n    return 'Summarise' in output\n",
    "evals/support-answer.yaml": "prompt: support/answer\nprovider: echo\ncases:\n"
    "  - {id: a, vars: {question: q}, assert: [{type: contains, value: warm}]}\n",
    "evals/summary.yaml": "prompt: summary\nprovider: echo\ncases:\n"
    "  - {id: a, vars: {text: t}, assert: [{type: python, value: 'checks.cite:check'}]}\n",
    "evals/judged.yaml": "prompt: summary\nthreshold: 0.5\ncases:\n"
    "  - {id: a, vars: {text: t}, assert: [{type: llm-rubric, value: short}]}\n",
    "evals/from-file.yaml": "prompt: summary\nprovider: echo\ncases: cases/extra.jsonl\n",
    "evals/cases/extra.jsonl": '{"id": "x", "vars": {"text": "t"}, "assert": [{"type": "contains", "value": "t"}]}\n',
}

CHANGES = {  # a kind of change -> (file, new content, the sets it must reach)
    "template": (
        "prompts/summary.jinja",
        "---\ntier: default\n---\nSummarise briefly: {{ text }}\n",
        {"summary", "judged", "from-file"},
    ),
    "partial": ("prompts/partials/tone.jinja", "Be formal.\n", {"support-answer"}),
    "examples": (
        "prompts/examples/support.yaml",
        "- {q: Can I pay by invoice?}\n",
        {"support-answer"},
    ),
    "tier": (
        "prompts/tiers.yaml",
        AGREEMENT_FILES["prompts/tiers.yaml"].replace("512", "384"),
        {"support-answer"},
    ),
    "judge": ("prompts/judge.jinja", "Rubric: {{ rubric }}\n{{ output }}\nScore: N\n", {"judged"}),
    "golden file": (
        "evals/summary.yaml",
        AGREEMENT_FILES["evals/summary.yaml"] + "  - {id: b, vars: {text: u}}\n",
        {"summary"},
    ),
    "python module": (
        "checks/cite.py",
        "def check(output, context):\n    return 'brief' in output\n",
        {"summary"},
    ),
    "cases file": (
        "evals/cases/extra.jsonl",
        AGREEMENT_FILES["evals/cases/extra.jsonl"].replace('"x"', '"y"'),
        {"from-file"},
    ),
    "promptvc.toml": ("promptvc.toml", "[gate]\nmax_drop = 0.1\n", set()),
}


def _sets_each_command_runs(repo, cli, tmp_path) -> dict[str, set[str]]:
    _code, out, _ = cli("diff", "--staged", "--json")
    by_diff = {s["id"] for s in json.loads(out)["affected_sets"]}
    _code, out, _ = cli("eval", "--staged", "--changed-since", "HEAD", "--json")
    by_eval = {s["id"] for s in json.loads(out)["sets"]} if out.startswith("{") else set()
    report = tmp_path / "check.md"
    report.unlink(missing_ok=True)
    cli("check", "--markdown", str(report))
    rows = report.read_text().splitlines()[4:] if report.exists() else []
    by_check = {row.split("|")[1].strip() for row in rows if row.startswith("| ")}
    return {"diff": by_diff, "eval --changed-since": by_eval, "check": by_check}


def test_diff_eval_and_check_agree_on_what_a_change_affects(git_repo, cli, tmp_path):
    for path, text in AGREEMENT_FILES.items():
        git_repo.write(path, text, dedent=False)
    git_repo.write(".gitignore", ".promptvc/\n")
    git_repo.commit("base")
    for kind, (path, text, expected) in CHANGES.items():
        git_repo.write(path, text, dedent=False)
        git_repo.stage(path)
        answers = _sets_each_command_runs(git_repo, cli, tmp_path)
        assert answers == dict.fromkeys(answers, expected), kind
        if kind == "python module":
            _code, out, _ = cli("diff", "--staged")
            assert "golden set summary affected: python module checks/cite.py changed" in out
            assert "no prompt changes" not in out
        git_repo.git("reset", "-q", "--hard")


JUDGED = """\
prompt: support/answer
provider: anthropic
threshold: 0.5
vars: {policy: "Refunds within 30 days."}
cases:
  - id: grounded
    vars: {question: "Can I return after 2 months?"}
    assert:
      - {type: llm-rubric, value: "Says no, citing the policy"}
"""


def test_the_spend_cap_counts_the_judge_calls_and_the_tui_estimates_the_same(
    support_repo, model_server, cli
):
    """One case with one llm-rubric on each side: a model call and a judge call each, so four."""
    from promptvc.evaluation.both import plan_both, spend
    from promptvc.git.snapshot import INDEX, Commit
    from promptvc.store import Store
    from promptvc.tui.model import HistoryBrowser
    from promptvc.workspace import Workspace

    support_repo.write("evals/support-answer.yaml", JUDGED)
    support_repo.commit("judge the answers")
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    support_repo.write("promptvc.toml", "[eval]\nspend_cap = 0.0000001\n")
    support_repo.stage()
    code, out, err = cli("check")
    assert code == 3 and "would send 4 requests" in out + err, out + err
    assert "above the spend cap $0.0000001 in promptvc.toml" in out + err  # a small cap is visible
    assert model_server.calls == 0

    ws = Workspace.open()
    head = ws.resolve("HEAD")
    store = Store(ws.db_path)
    needed = spend(store, plan_both(ws, head, INDEX))
    assert needed.requests == 4 and needed.cost > 0
    support_repo.commit("formal tone")
    browser = HistoryBrowser(ws)
    point = next(p for p in browser.commits() if p.commit.sha == support_repo.head())
    assert browser.cost_to_evaluate(point) == (needed.requests, needed.cost)
    assert Commit(support_repo.head()) == ws.resolve("HEAD")


def test_git_missing_or_failing_is_told_apart_from_a_bad_revision(
    support_repo, cli, monkeypatch, tmp_path
):
    code, _out, err = cli("diff", "nosuch")
    assert code == 2 and err.strip() == "promptvc: unknown revision: nosuch"

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    (fake_bin / "git").write_text(  # git whose object reads fail, as in a corrupt repository
        f'#!/bin/sh\nif [ "$1" = cat-file ]; then echo "fatal: simulated corruption" >&2; exit 128; fi\n'
        f'exec {real_git} "$@"\n'
    )
    (fake_bin / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    code, _out, err = cli(
        "render", "support/answer", "--rev", "HEAD", "--var", "question=q", "--var", "policy=p"
    )
    assert code == 3 and err.strip() == "promptvc: git cat-file failed: fatal: simulated corruption"

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _out, err = cli("diff")
    assert code == 3 and "git is not installed" in err and len(err.strip().splitlines()) == 1


def test_render_staged_reads_the_index(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    support_repo.stage()
    support_repo.write("prompts/partials/tone.jinja", "Be loud.\n")
    code, out, _ = cli(
        "render", "support/answer", "--staged", "--var", "question=q", "--var", "policy=p"
    )
    assert code == 0 and "Be formal." in out
    code, _out, err = cli("render", "support/answer", "--staged", "--rev", "HEAD")
    assert code == 2 and err.strip() == "promptvc: give --rev or --staged, not both"
