import os
import subprocess
import sys

import pytest

from tests.model_server import last_user_text
from tests.test_eval import MODEL_GOLDEN


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


def commit(repo, *args, message="change"):
    """A real `git commit`; git sends the hook's output to stderr, so both are read as one."""
    return subprocess.run(["git", "commit", "-q", "-m", message, *args], cwd=repo.root, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)


def test_staged_regression_is_blocked_while_the_worktree_is_clean(gated, model_server):
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode != 0
    assert "blocked:" in result.stdout and "pass → FAIL" in result.stdout
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


def test_unrelated_commit_passes_and_sends_nothing(gated, model_server):
    gated.write("README.txt", "docs\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0
    assert "no prompt, golden set or config change to check" in result.stdout
    assert model_server.calls == 0


def test_one_prompt_change_sends_only_its_changed_cases_and_results_are_found_again(gated, model_server, cli):
    gated.write("evals/support-answer.yaml", MODEL_GOLDEN.replace("after 2 months", "after 3 months"))
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
    gated.write("evals/other.yaml", "prompt: other\nprovider: anthropic\ncases:\n  - {id: hi, vars: {name: Bo}}\n")
    gated.stage()
    assert commit(gated, message="other").returncode == 0
    assert cli("eval", "--rev", "HEAD")[0] == 0  # HEAD's scores are stored: the baseline costs nothing
    model_server.reset()
    tiers = (gated.root / "prompts/tiers.yaml").read_text().replace("max_tokens: 512", "max_tokens: 600")
    gated.write("prompts/tiers.yaml", tiers)
    gated.stage()
    result = commit(gated)
    assert result.returncode == 0, result.stdout
    sent = {r["body"]["max_tokens"] for r in model_server.requests}
    assert sent == {600}
    assert model_server.calls == 3  # both prompts on `fast` re-run; HEAD's side came from the store


def test_first_commit_checks_thresholds_only(git_repo, model_server, cli):
    from tests.conftest import ANSWER, EXAMPLES, TIERS
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
    assert subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=gated.root, env=env).returncode == 0
    assert model_server.calls == 0


def test_merge_commit_compares_with_the_first_parent(gated, model_server):
    gated.git("checkout", "-q", "-b", "side")
    gated.write("notes.txt", "side\n")
    gated.commit("side work")
    gated.git("checkout", "-q", "main")
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.git("commit", "-q", "--no-verify", "-am", "vague on main")
    result = subprocess.run(["git", "merge", "-q", "--no-ff", "-m", "merge side", "side"], cwd=gated.root,
                            capture_output=True, text=True)
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
    gated.write("promptvc.toml", "[eval]\nmax_retries = 0\n[gate]\noffline = \"block\"\n")
    gated.git("add", "promptvc.toml")
    gated.git("commit", "-q", "--no-verify", "-m", "config")
    gated.write("prompts/partials/tone.jinja", "Be kind.\n")
    gated.stage()
    result = commit(gated)
    assert result.returncode != 0 and "could not evaluate" in result.stdout
    gated.write("promptvc.toml", "[eval]\nmax_retries = 0\n[gate]\noffline = \"warn\"\n")
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
    code, out, err = cli("check", "--base", "main", "--markdown", str(summary), "--junit", str(junit))
    assert code == 1, out + err
    assert "| support-answer | 1.00 | 0.00 | -1.00 | 0.90 | failed |" in summary.read_text()
    assert "<failure" in junit.read_text()


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
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=gated.root, env=env, check=True,
                   capture_output=True)
    gated.write("prompts/partials/tone.jinja", "Be vague.\n")
    gated.stage()
    result = subprocess.run(["git", "commit", "-q", "-m", "vague"], cwd=gated.root, env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    assert result.returncode != 0 and "blocked:" in result.stdout + result.stderr
    gated.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    gated.stage()
    result = subprocess.run(["git", "commit", "-q", "-m", "fine"], cwd=gated.root, env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    # `pre-commit run --all-files` stages nothing; the hook then has nothing to check.
    result = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=gated.root, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_nothing_to_check_imports_nothing_heavy(support_repo):
    support_repo.write("README.txt", "docs\n")
    support_repo.stage()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "promptvc", "check"], cwd=support_repo.root,
                          capture_output=True, text=True)
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert imported.isdisjoint({"anthropic", "textual", "deepdiff", "sqlite_utils", "jinja2", "yaml", "rich",
                                "httpx", "httpx2", "socket"}), imported & {"jinja2", "yaml", "rich", "socket"}
    assert "no prompt, golden set or config change to check" in proc.stdout
