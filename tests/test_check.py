import json
import os
import shlex
import subprocess
import sys

import pytest

from tests.data import EXAMPLES, GOLDEN, MODEL_GOLDEN
from tests.helpers import git_commit as commit
from tests.model_server import last_user_text


def good_answer(body):
    return "You have 30 days." if "How long" in last_user_text(body) else "No, only within 30 days."


def rule_by_system(body):
    """Answers well unless the system prompt says to be vague."""
    if "Be vague." in body.get("system", ""):
        return "I am not sure, sorry."
    return good_answer(body)


@pytest.fixture
def gated(support_repo, model_server, cli):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    model_server.rule = rule_by_system
    code, out, err = cli("hook", "install")
    assert code == 0, err
    return support_repo


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_staged_regression_is_blocked_while_the_worktree_is_clean(gated, model_server):
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode != 0
    assert "blocked:" in result.stdout and "2 cases regressed" in result.stdout
    assert (
        'refund-window  pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)   contains "30 days": '
        "output does not contain '30 days'" in result.stdout
    )
    assert "(skip once with `git commit --no-verify`)" in result.stdout
    assert gated.git("log", "--oneline").count("\n") == 2  # nothing committed


def test_a_good_staged_change_passes_while_the_worktree_is_bad(gated, model_server):
    gated.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    gated.stage()
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    result = commit(gated)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "allowed" in result.stdout
    assert all("Be vague." not in r["body"].get("system", "") for r in model_server.requests)


def test_commit_all_and_commit_path_judge_the_temporary_index(gated):
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    assert commit(gated, "-a").returncode != 0
    assert commit(gated, "prompts/partials/tone.jinja").returncode != 0
    assert "Be vague." not in gated.git("show", "HEAD:prompts/partials/tone.jinja")


def test_unrelated_commit_passes_silently_and_sends_nothing(gated, model_server, cli):
    gated.write("README.txt", "docs\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0
    assert result.stdout == ""  # the hook is silent on every commit it has nothing to say about
    assert model_server.calls == 0
    code, out, _ = cli("check", "-v")
    assert code == 0 and out == "promptvc check: no prompt, golden set or config change to check\n"


def test_one_prompt_change_sends_only_its_changed_cases_and_results_are_found_again(
    gated, model_server, cli
):
    gated.write(
        "evals/support-answer.yaml", MODEL_GOLDEN.replace("after 2 months", "after 3 months")
    )
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0, result.stdout
    # the baseline (HEAD) costs 2 calls, the staged side only the changed case
    assert model_server.calls == 3
    assert "1 of 2 cases re-run" in result.stdout
    code, out, _ = cli("log", "-n", "1")
    assert "support-answer" in out and "1.00" in out


def test_a_tier_change_reruns_every_prompt_on_that_tier(gated, model_server, cli):
    gated.write("prompts/other.jinja", "---\ntier: fast\n---\nSay hi to {{ name }}\n")
    gated.write(
        "evals/other.yaml",
        "prompt: other\nprovider: anthropic\ncases:\n  - {id: hi, vars: {name: Bo}}\n",
    )
    gated.stage()
    assert commit(gated, message="other").returncode == 0
    assert (
        cli("eval", "--rev", "HEAD")[0] == 0
    )  # HEAD's scores are stored: the baseline costs nothing
    model_server.reset()
    tiers = (
        (gated.root / "prompts/tiers.yaml")
        .read_text()
        .replace("max_tokens: 512", "max_tokens: 600")
    )
    gated.write("prompts/tiers.yaml", tiers)
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0, result.stdout
    sent = {r["body"]["max_tokens"] for r in model_server.requests}
    assert sent == {600}
    assert model_server.calls == 3  # both prompts on `fast` re-run; HEAD's side came from the store


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_first_commit_checks_thresholds_only(git_repo, model_server, cli):
    from tests.data import ANSWER, EXAMPLES, TIERS

    model_server.rule = lambda body: "I am not sure, sorry."
    cli("hook", "install")
    git_repo.write("prompts/tiers.yaml", TIERS)
    git_repo.write("prompts/support/answer.jinja", ANSWER)
    git_repo.write("prompts/partials/tone.jinja", "x\n")
    git_repo.write("prompts/examples/support.yaml", EXAMPLES)
    git_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    git_repo.stage()
    result = commit(git_repo)
    assert result.returncode != 0 and "below its threshold" in result.stdout


def test_no_verify_and_promptvc_skip(gated, model_server):
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    assert commit(gated, "--no-verify").returncode == 0
    gated.write("prompts/partials/tone.jinja", "Be vague. Really.\n")
    gated.stage()
    env = {**os.environ, "PROMPTVC_SKIP": "1"}
    assert (
        subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=gated.root, env=env).returncode == 0
    )
    assert model_server.calls == 0


def test_an_amend_is_judged_against_the_amended_commits_parent(gated, model_server):
    """A regression committed with --no-verify must not pass by being amended."""
    parent = gated.head()
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    assert commit(gated, "--no-verify", message="vague").returncode == 0
    vague = gated.head()
    gated.write("notes.txt", "unrelated\n")
    gated.stage()
    result = commit(gated, "--amend", message="vague, with notes")
    assert result.returncode != 0 and "blocked:" in result.stdout, result.stdout
    assert f"amended commit ({vague[:7]}) vs its parent ({parent[:7]})" in result.stdout
    assert "(skip once with `git commit --no-verify`)" in result.stdout
    assert gated.head() == vague  # nothing was rewritten
    # a rewording alone is judged the same way, and so is an abbreviated --amend
    assert commit(gated, "--amen", message="reworded").returncode != 0
    # an amend that undoes the regression has nothing left to check against the parent
    gated.write("prompts/partials/tone.jinja", "Be warm and brief.\n")
    gated.stage()
    result = commit(gated, "--amend", message="notes only")
    assert result.returncode == 0, result.stdout
    assert gated.git("rev-parse", "HEAD^").strip() == parent


def test_amending_the_first_commit_compares_with_the_empty_tree(git_repo, model_server, cli):
    from tests.data import ANSWER, EXAMPLES, TIERS

    model_server.rule = lambda body: "I am not sure, sorry."
    git_repo.write("prompts/tiers.yaml", TIERS)
    git_repo.write("prompts/support/answer.jinja", ANSWER)
    git_repo.write("prompts/partials/tone.jinja", "x\n")
    git_repo.write("prompts/examples/support.yaml", EXAMPLES)
    git_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    git_repo.stage()
    assert commit(git_repo, "--no-verify").returncode == 0
    cli("hook", "install")
    result = commit(git_repo, "--amend", message="first, reworded")
    assert result.returncode != 0 and "below its threshold" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("argv", "amend"),
    [
        (["git", "commit", "--amend"], True),
        (["/usr/lib/git-core/git", "commit", "-q", "--amen", "-m", "x"], True),
        (["git", "-c", "core.editor=vi", "-C", "sub", "commit", "--amend=x"], False),
        (["git", "--no-pager", "commit", "--am"], True),
        (["git", "commit", "-m", "--amend"], False),
        (["git", "commit", "-m--amend"], False),
        (["git", "commit", "--amend", "--no-amend"], False),
        (["git", "commit", "--", "--amend"], False),
        (["git", "merge", "--amend"], False),
        (["git", "commit", "--a"], False),
        (["python", "commit", "--amend"], False),
    ],
)
def test_which_git_commands_are_amends(argv, amend):
    from promptvc.git.invocation import is_amend

    assert is_amend(argv) is amend


def test_without_proc_the_parent_is_read_from_ps(monkeypatch, tmp_path):
    import shutil

    from promptvc.git import invocation

    if shutil.which("ps") is None:
        pytest.skip("no ps here")
    from_proc = invocation._parent(os.getpid())
    monkeypatch.setattr(invocation, "Path", lambda _name: tmp_path / "no-proc")
    from_ps = invocation._parent(os.getpid())
    assert from_proc is not None and from_ps is not None
    assert from_ps[1] == from_proc[1] == os.getppid()
    assert from_ps[0][:2] == from_proc[0][:2]


def test_no_git_ancestor_is_no_amend(monkeypatch):
    from promptvc.git import invocation

    monkeypatch.setattr(invocation, "_parent", lambda pid: None)
    assert invocation.amending() is False


def test_merge_commit_compares_with_the_first_parent(gated, model_server):
    gated.git("checkout", "-q", "-b", "side")
    gated.write("notes.txt", "side\n")
    gated.commit("side work")
    gated.git("checkout", "-q", "main")
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague on main")
    result = subprocess.run(
        ["git", "merge", "-q", "--no-ff", "-m", "merge side", "side"],
        cwd=gated.root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0  # nothing prompt-related differs from the first parent


def test_core_hooks_path_and_refusing_foreign_hooks(support_repo, cli):
    support_repo.git("config", "core.hooksPath", ".githooks")
    code, out, _ = cli("hook", "install")
    assert code == 0 and (support_repo.root / ".githooks/pre-commit").exists()
    (support_repo.root / ".githooks/pre-commit").write_text("#!/bin/sh\necho mine\n")
    code, _, err = cli("hook", "install")
    assert code == 2 and "was not written by promptvc" in err
    code, _, err = cli("hook", "uninstall")
    assert code == 2
    assert cli("hook", "install", "--force")[0] == 0
    assert cli("hook", "uninstall")[0] == 0
    assert not (support_repo.root / ".githooks/pre-commit").exists()


def test_global_hooks_path_is_refused(support_repo, cli, tmp_path):
    support_repo.git("config", "--global", "core.hooksPath", str(tmp_path / "global-hooks"))
    code, _, err = cli("hook", "install")
    assert code == 2 and "global git config" in err


def test_hook_calls_the_installing_interpreter(support_repo, cli):
    cli("hook", "install")
    text = (support_repo.root / ".git/hooks/pre-commit").read_text()
    assert os.path.abspath(sys.executable) in text and "</dev/null" in text


def test_server_failing_throughout_blocks_or_warns_as_configured(gated, model_server):
    model_server.fail_first = 10_000
    model_server.fail_status = 529
    gated.write("promptvc.toml", '[eval]\nmax_retries = 0\n[gate]\noffline = "block"\n')
    gated.git("add", "promptvc.toml")
    gated.git("commit", "-q", "--no-verify", "-m", "config")
    gated.write("prompts/partials/tone.jinja", "Be kind.\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode != 0 and "could not evaluate" in result.stdout
    gated.write("promptvc.toml", '[eval]\nmax_retries = 0\n[gate]\noffline = "warn"\n')
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0, result.stdout
    assert "not checked" in result.stdout


def test_without_a_key_the_gate_says_what_it_could_not_check(gated, model_server, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    gated.write("prompts/partials/tone.jinja", "Be kind.\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0
    assert "not checked (no recording for this request" in result.stdout
    assert model_server.calls == 0


def test_check_base_in_ci_with_markdown_and_junit(gated, model_server, cli, tmp_path):
    gated.git("checkout", "-q", "-b", "feature")
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    code, out, err = cli(
        "check", "--base", "main", "--markdown", str(summary), "--junit", str(junit)
    )
    assert code == 1, out + err
    report = summary.read_text()
    assert (
        "| support-answer | 1.00 | 0.00 | -1.00 | −1.00..−1.00 | 0.25 | 0.90 | failed | regressed: 2 cases reproduced when re-sampled |"
        in report
    )
    assert (
        "- `support-answer/refund-window`: passed → failed (re-sampled pass 8/8 → 0/8, reproduced)"
        in report
    )
    assert "<failure" in junit.read_text()
    assert "blocked:" in out and "--no-verify" not in out  # CI cannot skip a hook


def test_pre_push_hint_names_git_push(gated, model_server, cli, monkeypatch):
    base = gated.head()
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", gated.head())
    code, out, _ = cli("check")
    assert code == 1 and "(skip once with `git push --no-verify`)" in out


def push(repo, *args, env=None):
    """A real `git push`; the pre-push hook's output is read with git's."""
    return subprocess.run(
        ["git", "push", "-q", *args],
        cwd=repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def remote(gated, tmp_path):
    """A bare remote that has main; the pre-push hook installed after the first push."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    gated.git("remote", "add", "origin", str(bare))
    gated.git("push", "-q", "origin", "main")
    return bare


def remote_sha(bare, ref):
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref], cwd=bare, capture_output=True, text=True
    )
    return proc.stdout.strip() or None


def test_pre_push_judges_the_pushed_range_against_the_remote(gated, remote, model_server, cli):
    code, out, _ = cli("hook", "install", "--pre-push")
    assert code == 0 and "pre-push" in out
    script = (gated.root / ".git/hooks/pre-push").read_text()
    assert 'check --pre-push "$1"' in script and "</dev/null" not in script
    published = gated.head()
    # history that never met the commit hook: a regression, then an unrelated commit on top
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    gated.write("notes.txt", "notes\n")
    gated.commit("notes")
    result = push(gated, "origin", "main")
    assert result.returncode != 0 and "blocked:" in result.stdout, result.stdout
    assert (
        f"push main to origin: {gated.head()[:7]} vs origin's main ({published[:7]})"
        in result.stdout
    )
    assert "(skip once with `git push --no-verify`)" in result.stdout
    assert remote_sha(remote, "main") == published  # nothing was pushed
    # a new branch is judged against its merge-base with the remote's default branch
    gated.git("branch", "feature")
    result = push(gated, "origin", "feature")
    assert result.returncode != 0 and "the merge-base with origin/main" in result.stdout, (
        result.stdout
    )
    assert remote_sha(remote, "feature") is None
    # deleting a branch sends nothing to judge
    assert push(gated, "origin", "--no-verify", "feature").returncode == 0
    calls = model_server.calls
    result = push(gated, "origin", ":feature")
    assert result.returncode == 0 and result.stdout == "" and model_server.calls == calls
    # undone, the push has nothing prompt-related left to judge and goes through silently
    gated.write("prompts/partials/tone.jinja", "Be warm and brief.\n")
    gated.commit("undo vague")
    result = push(gated, "origin", "main")
    assert result.returncode == 0 and result.stdout == "", result.stdout
    assert remote_sha(remote, "main") == gated.head()


def test_pre_push_of_a_new_branch_to_an_unknown_default_says_it_did_not_check(
    gated, remote, model_server, cli
):
    assert cli("hook", "install", "--pre-push")[0] == 0
    gated.git("checkout", "-q", "-b", "feature")
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    result = push(
        gated, str(remote), "feature"
    )  # a URL: no remote-tracking refs to find a default in
    assert result.returncode == 0, result.stdout
    assert "feature is new on" in result.stdout and "not checked" in result.stdout
    assert model_server.calls == 0


def test_pre_push_is_refreshed_by_a_plain_install_and_removed_by_uninstall(gated, cli):
    hooks = gated.root / ".git/hooks"
    assert not (hooks / "pre-push").exists()  # only on request
    assert cli("hook", "install", "--pre-push")[0] == 0
    (hooks / "pre-push").write_text(
        (hooks / "pre-push").read_text().replace(sys.executable, "/old/python")
    )
    assert cli("hook", "install")[0] == 0
    assert os.path.abspath(sys.executable) in (hooks / "pre-push").read_text()
    assert cli("hook", "uninstall")[0] == 0
    assert not (hooks / "pre-push").exists()
    (hooks / "pre-push").write_text("#!/bin/sh\necho mine\n")
    code, _, err = cli("hook", "install", "--pre-push")
    assert code == 2 and "pre-push exists and was not written by promptvc" in err
    assert not (hooks / "pre-commit").exists()  # refused before writing any


def test_rebase_exec_check_stops_at_the_commit_that_regresses(gated, model_server):
    """The README's recipe for history rewritten by rebase, which runs no commit hook."""
    base = gated.head()
    gated.write("notes.txt", "one\n")
    gated.commit("notes")
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    gated.write("notes.txt", "two\n")
    gated.commit("more notes")
    command = f"{shlex.quote(sys.executable)} -m promptvc check --base HEAD~1"
    result = subprocess.run(
        ["git", "rebase", "-q", "--force-rebase", "-x", command, base],
        cwd=gated.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "blocked:" in result.stdout, result.stdout
    assert gated.git("log", "-1", "--format=%s").strip() == "vague"  # the rebase stopped there
    gated.git("rebase", "--abort")


def test_pre_commit_framework_runs_the_shipped_hook(gated, model_server, tmp_path):
    import yaml

    shipped_file = os.path.join(os.path.dirname(__file__), "..", ".pre-commit-hooks.yaml")
    with open(shipped_file) as f:
        shipped = yaml.safe_load(f)[0]
    hook = {**shipped, "language": "system", "entry": f"{sys.executable} -m promptvc check"}
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    (gated.root / ".git/hooks/pre-commit").unlink()
    gated.write(".pre-commit-config.yaml", yaml.safe_dump(config))
    gated.git("add", ".pre-commit-config.yaml")
    gated.git("commit", "-q", "--no-verify", "-m", "pre-commit config")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home")}
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=gated.root,
        env=env,
        check=True,
        capture_output=True,
    )
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    result = subprocess.run(
        ["git", "commit", "-q", "-m", "vague"],
        cwd=gated.root,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "blocked:" in result.stdout + result.stderr
    gated.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    gated.stage()
    result = subprocess.run(
        ["git", "commit", "-q", "-m", "fine"],
        cwd=gated.root,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Through the framework too, an amend is judged against the amended commit's parent: vaguer than
    # a --no-verify HEAD is no worse than HEAD, but worse than HEAD's parent.
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    gated.write("prompts/partials/tone.jinja", "Be vague. Really.\n")
    gated.stage()
    result = subprocess.run(
        ["git", "commit", "-q", "--amend", "-m", "vaguer"],
        cwd=gated.root,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "amended commit" in result.stdout + result.stderr, (
        result.stdout
    )
    gated.git("reset", "-q", "--hard", "HEAD~1")
    # `pre-commit run --all-files` stages nothing; the hook then has nothing to check.
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=gated.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_nothing_to_check_imports_nothing_heavy(support_repo):
    support_repo.write("README.txt", "docs\n")
    support_repo.stage()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "promptvc", "check", "-v"],
        cwd=support_repo.root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if "|" in line
    }
    assert imported.isdisjoint(
        {
            "anthropic",
            "textual",
            "deepdiff",
            "sqlite_utils",
            "jinja2",
            "yaml",
            "rich",
            "httpx",
            "httpx2",
            "socket",
        }
    ), imported & {"jinja2", "yaml", "rich", "socket"}
    assert "no prompt, golden set or config change to check" in proc.stdout


def test_two_passing_branches_cannot_merge_into_a_failing_main(support_repo, cli):
    """pre-merge-commit: a clean merge is gated on its result against the first parent."""
    budget = len(cli("render", "support/answer", "--case", "refund-window", "--plain")[1]) + 30
    support_repo.write(
        "evals/support-answer.yaml",
        f"""\
        prompt: support/answer
        provider: echo
        vars: {{policy: "Refunds are accepted within 30 days of delivery."}}
        cases:
          - id: refund-window
            vars: {{question: "How long do I have to return an item?"}}
            assert:
              - {{type: max-length, value: {budget}}}
        """,
    )
    support_repo.commit("a size budget")
    assert cli("hook", "install")[0] == 0
    assert (support_repo.root / ".git/hooks/pre-merge-commit").exists()
    support_repo.git("checkout", "-q", "-b", "warmer")
    support_repo.write("prompts/partials/tone.jinja", "Be warm and brief. Thank them for asking.\n")
    support_repo.stage()
    assert commit(support_repo).returncode == 0
    support_repo.git("checkout", "-q", "main")
    support_repo.write(
        "prompts/examples/support.yaml",
        EXAMPLES.replace("email.", "email, usually within the hour."),
    )
    support_repo.stage()
    assert commit(support_repo).returncode == 0
    head = support_repo.head()
    result = subprocess.run(
        ["git", "merge", "--no-edit", "warmer"],
        cwd=support_repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "blocked:" in result.stdout, result.stdout
    assert support_repo.head() == head  # the merge was not committed
    assert cli("hook", "uninstall")[0] == 0
    assert not (support_repo.root / ".git/hooks/pre-merge-commit").exists()


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_work_tree_results_carry_over_to_the_commit(support_repo, cli, object_format):
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace("threshold: 0.9", "provider: echo\nthreshold: 0.9"),
    )
    assert cli("eval", "--json")[0] in (0, 1)
    support_repo.commit("echo golden")
    code, out, _ = cli("eval", "--rev", "HEAD", "--json")
    assert json.loads(out)["sets"][0]["cases"][0]["cached"]  # found again by content, not re-run


def half_right(body):
    """Vague: every case fails. Curt: the refund-window case fails, late-return passes."""
    system = body.get("system", "")
    if "Be vague." in system:
        return "I am not sure, sorry."
    if "Be curt" in system:
        return "Soon." if "How long" in last_user_text(body) else "No."
    return good_answer(body)


def test_a_set_already_below_its_threshold_is_not_blocked_unless_it_gets_worse(gated, model_server):
    model_server.rule = half_right
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague")
    gated.write("prompts/partials/tone.jinja", "Be curt.\n")  # an improvement: 0.00 → 0.50
    gated.stage()
    result = commit(gated, message="curt")
    assert result.returncode == 0, result.stdout
    assert (
        "support-answer still below its threshold (0.50 < 0.90), no worse than HEAD"
        in result.stdout
    )
    gated.write("prompts/partials/tone.jinja", "Be curt!\n")  # neutral: 0.50 → 0.50
    gated.stage()
    result = commit(gated, message="curt!")
    assert result.returncode == 0, result.stdout
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")  # worse: 0.50 → 0.00
    gated.stage()
    result = commit(gated, message="vague again")
    assert result.returncode == 1, result.stdout
    assert "blocked: support-answer 1 case regressed: late-return pass 8/8 → 0/8" in result.stdout


def test_block_below_threshold_always_blocks_an_improvement_that_still_fails(gated, model_server):
    model_server.rule = half_right
    gated.write("promptvc.toml", '[gate]\nblock_below_threshold = "always"\n')
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("add", "-A")
    gated.git("commit", "-q", "--no-verify", "-m", "vague")
    gated.write("prompts/partials/tone.jinja", "Be curt.\n")
    gated.stage()
    result = commit(gated, message="curt")
    assert (
        result.returncode == 1
        and "blocked: support-answer is below its threshold (0.50 < 0.90)" in result.stdout
    )


def test_a_python_assertion_that_raises_blocks_the_commit_with_the_error(gated, model_server):
    gated.write(
        "checks/support.py", "def explodes(output, context):\n    raise ValueError('boom')\n"
    )
    gated.write(
        "evals/py.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days"}
        cases:
          - id: broken
            vars: {question: "q"}
            assert: [{type: python, value: "checks.support:explodes"}]
        """,
    )
    gated.stage()
    result = commit(gated, message="a python check")
    assert result.returncode == 1, result.stdout
    assert "blocked: py 1 case errored in its own checks" in result.stdout
    assert "ValueError: boom" in result.stdout


def test_a_judge_reply_without_a_score_blocks_the_commit(gated, model_server):
    model_server.rule = lambda body: (
        "Looks fine." if "Rubric:" in last_user_text(body) else good_answer(body)
    )
    gated.write(
        "evals/grounded.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days", question: "q"}
        cases:
          - id: grounded
            assert: [{type: llm-rubric, value: "Says no"}]
        """,
    )
    gated.stage()
    result = commit(gated, message="a judged set")
    assert result.returncode == 1, result.stdout
    assert (
        "grounded 1 case errored in its own checks" in result.stdout
        and "no 'Score: N' line" in result.stdout
    )


def test_check_strict_exits_3_when_a_set_could_not_be_evaluated(
    gated, model_server, cli, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    gated.write("prompts/partials/tone.jinja", "Be kind.\n")
    gated.stage()
    code, out, err = cli("check")
    assert code == 0 and "nothing was evaluated: 2 cases, 2 skipped" in out
    code, out, err = cli("check", "--strict")
    assert code == 3
    assert err.startswith(
        "promptvc: --strict: 1 of 1 golden set not evaluated (support-answer: no recording"
    )


def test_reports_go_into_new_folders_and_a_directory_is_one_line(
    gated, model_server, cli, tmp_path
):
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    summary, junit = tmp_path / "reports/ci/summary.md", tmp_path / "reports/ci/junit.xml"
    code, out, err = cli("check", "--markdown", str(summary), "--junit", str(junit))
    assert code == 1 and "Traceback" not in err
    assert "blocked" in summary.read_text() and "<failure" in junit.read_text()
    model_server.reset()
    code, out, err = cli("check", "--junit", str(tmp_path))
    assert code == 2 and err == f"promptvc: {tmp_path}: is a directory; give a file name\n"
    assert out == "" and model_server.calls == 0  # refused before anything is run or printed


def test_check_shows_why_the_cases_of_a_new_set_fail_and_the_judges_reason(gated, model_server):
    def rule(body):
        if "Rubric:" in last_user_text(body):
            return "It never cites the policy.\nScore: 2"
        return good_answer(body)

    model_server.rule = rule
    gated.write(
        "evals/grounded.yaml",
        """\
        prompt: support/answer
        provider: anthropic
        vars: {policy: "30 days"}
        cases:
          - id: cites
            vars: {question: "Can I return it?"}
            assert: [{type: llm-rubric, value: "Cites the policy", min: 4}]
          - id: polite
            vars: {question: "Where is it?"}
            assert: [{type: contains, value: "please"}]
        """,
    )
    gated.stage()
    result = commit(gated, message="a new set")
    assert result.returncode == 1
    assert (
        "cites  FAIL   llm-rubric: judge 2/5 (min 4): It never cites the policy." in result.stdout
    )
    assert "polite  FAIL   contains \"please\": output does not contain 'please'" in result.stdout


def test_when_only_a_check_changed_check_shows_the_verdicts_not_two_equal_outputs(
    gated, model_server
):
    gated.write(
        "evals/support-answer.yaml",
        (gated.root / "evals/support-answer.yaml").read_text().replace('"30 days"}', '"45 days"}'),
    )
    gated.stage()
    result = commit(gated)
    assert result.returncode == 1
    assert "output unchanged; the checks' verdicts:" in result.stdout
    assert "before: ✓ contains \"30 days\": output contains '30 days'" in result.stdout
    assert "after:  ✗ contains \"45 days\": output does not contain '45 days'" in result.stdout


def test_check_shows_the_cost_change_of_a_model_change(gated, model_server):
    tiers = (
        (gated.root / "prompts/tiers.yaml")
        .read_text()
        .replace("claude-haiku-4-5", "claude-sonnet-4-5")
    )
    gated.write("prompts/tiers.yaml", tiers)
    gated.stage()
    result = commit(gated, message="sonnet")
    assert result.returncode == 0, result.stdout
    # 2 calls of 100 input tokens, 9 output words in all: haiku $1/$5, sonnet $3/$15 per million
    assert (
        "cost per run: $0.00024 → $0.00073 (+$0.00049, ×3.0) over the 2 cases evaluated on both sides"
        in result.stdout
    )
