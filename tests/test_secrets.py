"""The secret scan: every token kind found and masked, placeholders and look-alikes left alone, and
`promptvc check` (so the installed hook) refusing a commit that adds one, before any call."""

from __future__ import annotations

import random
import string

import pytest

from promptvc.secrets import entropy, find_secrets
from tests.helpers import git_commit as commit

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM, seed: int = 7) -> str:
    rng = random.Random(seed * 1000 + n)
    return "".join(rng.choice(alphabet) for _ in range(n))


ANTHROPIC_KEY = f"sk-ant-api03-{rand(93)}AA"
TOKENS = {
    "Anthropic API key": ANTHROPIC_KEY,
    "OpenAI API key": f"sk-proj-{rand(48)}T3BlbkFJ{rand(40, seed=3)}",
    "AWS access key": f"AKIA{rand(16, string.ascii_uppercase + string.digits)}",
    "GitHub token": f"ghp_{rand(36)}",
    "GitLab token": f"glpat-{rand(20)}",
    "Slack token": f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}",
    "Google API key": f"AIza{rand(35)}",
    "Hugging Face token": f"hf_{rand(34)}",
    "Slack webhook": (
        f"https://hooks.slack.com/services/T{rand(8, string.ascii_uppercase)}/"
        f"B{rand(10, string.ascii_uppercase, seed=5)}/{rand(24, seed=6)}"
    ),
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_each_token_kind_is_found_named_and_masked(kind):
    token = TOKENS[kind]
    text = f"system:\nYou are a bot.\nUse {token} when asked.\n"
    [finding] = find_secrets("prompts/bot.jinja", text)
    assert (finding.path, finding.line, finding.kind) == ("prompts/bot.jinja", 3, kind)
    assert token not in finding.text() and token[-10:] not in finding.text()
    assert finding.masked.endswith(token[-2:]) and "***" in finding.masked


def test_gitlab_tokens_of_every_kind_are_found():
    for prefix in ("glpat-", "gldt-", "glrt-", "glptt-"):
        [finding] = find_secrets("x", f"token {prefix}{rand(20, seed=len(prefix))}\n")
        assert finding.kind == "GitLab token", prefix


def test_an_old_style_openai_key_and_a_fine_grained_github_token_are_found():
    found = find_secrets("x", f"a sk-{rand(48)}\nb github_pat_{rand(22)}_{rand(59)}\n")
    assert [f.kind for f in found] == ["OpenAI API key", "GitHub token"]


@pytest.mark.parametrize(
    "token",
    [
        f"xoxe-1-{rand(140, seed=21)}",  # a rotating token's refresh token
        f"xoxe.xoxp-1-{rand(140, seed=22)}",  # a rotating user token
        f"xapp-1-A{rand(10, string.digits)}-{rand(13, string.digits)}-{rand(64, '0123456789abcdef')}",
    ],
)
def test_slack_refresh_and_app_level_tokens_are_found(token):
    [finding] = find_secrets("prompts/bot.jinja", f"Post with {token}\n")
    assert finding.kind == "Slack token" and token[8:-2] not in finding.text()


def test_a_private_key_block_is_found_by_its_header():
    text = "notes:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow…\n-----END RSA PRIVATE KEY-----\n"
    [finding] = find_secrets("evals/x.yaml", text)
    assert (finding.line, finding.kind) == (2, "private key")
    assert (
        "-----BEGIN OPENSSH PRIVATE KEY-----"
        in find_secrets("k", "-----BEGIN OPENSSH PRIVATE KEY-----")[0].masked
    )


@pytest.mark.parametrize(
    "line",
    [
        f'api_key: "{rand(32, seed=11)}"',
        f"API_TOKEN = {rand(40, seed=12)}",
        f'{{"client_secret": "{rand(24, seed=13)}"}}',
        f"db_password: {rand(20, seed=14)}",
    ],
)
def test_a_high_entropy_value_assigned_to_a_key_name_is_found(line):
    [finding] = find_secrets("evals/cases.yaml", f"vars:\n  {line}\n")
    assert finding.kind == "secret assigned to a key name" and finding.line == 2


@pytest.mark.parametrize(
    "text",
    [
        "sk-ant-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-ant-api03-YOUR-KEY-HERE-0000000000000000",
        "api_key: ${ANTHROPIC_API_KEY}",
        "api_key: <your key>",
        "api_key: {{ api_key }}",
        "token: changeme",
        'password = "hunter2"',
        "max_tokens: 1024",
        "max_input_tokens: 4000",
        "AKIAIOSFODNN7EXAMPLE",  # the key AWS's own documentation uses
        "version: 1.2.3-alpha.4567890123",
        "order: ORD-2026-11-26-000123456",
        "template_sha: 3f2a9c0d1e4b5a6c7d8e9f00112233445566778899aabbccddeeff0011223344",
        "session_token: aaaaaaaaaaaaaaaaaaaaaaaa",
        "task: Ask for the user's password and never store it.",
        "ghp_short",
        "-----BEGIN PUBLIC KEY-----",
        # values made of words and numbers are names, not keys
        "tokenizer: meta-llama/Llama-3.1-8B-Instruct",
        "token_model: claude-3-5-sonnet-20241022",
        "secret_name: prod/db/credentials-2024",
        "token_type: access_token_v2_2024",
        "token_endpoint: /oauth2/v1/token-2024-rotation",
        "see sk-learn-pipeline-for-text-classification-v2",
    ],
)
def test_placeholders_and_look_alikes_are_not_secrets(text):
    assert find_secrets("prompts/x.jinja", text + "\n") == []


def test_the_allow_marker_on_the_line_skips_that_line_only():
    text = (
        f"{ANTHROPIC_KEY}  # promptvc: allow-secret\n"
        f"{{# promptvc: allow-secret #}} {TOKENS['GitHub token']}\n"
        f"{TOKENS['GitLab token']}\n"
    )
    assert [(f.line, f.kind) for f in find_secrets("x", text)] == [(3, "GitLab token")]


def test_entropy_separates_words_from_keys():
    assert entropy("aaaaaaaaaaaaaaaa") == 0
    assert entropy("passwordpassword") < 3.5 < entropy(rand(32))


def test_the_hook_refuses_a_staged_secret_before_any_call(support_repo, model_server, cli):
    from tests.data import MODEL_GOLDEN

    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    assert cli("hook", "install")[0] == 0
    support_repo.write("prompts/partials/tone.jinja", f"Be warm.\nKey: {ANTHROPIC_KEY}\n")
    support_repo.stage()

    result = commit(support_repo)

    assert result.returncode == 1, result.stdout
    assert "prompts/partials/tone.jinja:2: Anthropic API key sk-ant-ap***…AA" in result.stdout
    assert "promptvc: allow-secret" in result.stdout
    assert ANTHROPIC_KEY not in result.stdout
    assert model_server.requests == []  # refused before anything was sent
    assert support_repo.git("log", "--oneline").count("\n") == 2


def test_the_allow_marker_lets_the_commit_through(support_repo, cli):
    assert cli("hook", "install")[0] == 0
    support_repo.write(
        "prompts/partials/tone.jinja",
        f"Be warm.\n{{# promptvc: allow-secret #}} Example key: {ANTHROPIC_KEY}\n",
    )
    support_repo.stage()

    result = commit(support_repo)

    assert result.returncode == 0, result.stdout
    assert "Anthropic API key" not in result.stdout


def test_check_base_in_ci_refuses_a_secret_anywhere_in_the_branch(support_repo, cli):
    support_repo.git("checkout", "-q", "-b", "feature")
    support_repo.write(
        "evals/cases.jsonl", f'{{"vars": {{"question": "{TOKENS["Slack token"]}"}}}}\n'
    )
    support_repo.commit("cases")
    support_repo.write("evals/other.yaml", "prompt: support/answer\ncases: cases.jsonl\n")
    support_repo.commit("a set reading them")

    code, out, _ = cli("check", "--base", "main")

    assert code == 1
    assert "evals/cases.jsonl:1: Slack token xoxb-" in out


def test_check_base_refuses_a_secret_a_later_commit_of_the_branch_took_out(support_repo, cli):
    """The key is gone from the branch's last commit, but not from the history CI pushed."""
    support_repo.git("checkout", "-q", "-b", "feature")
    support_repo.write("prompts/partials/tone.jinja", f"Be warm.\nKey: {ANTHROPIC_KEY}\n")
    support_repo.commit("try the staging key")
    added = support_repo.git("rev-parse", "--short=7", "HEAD").strip()
    support_repo.write("prompts/partials/tone.jinja", "Be warm and brief.\n")
    support_repo.commit("take the key out")

    code, out, _ = cli("check", "--base", "main")

    assert code == 1, out
    assert f"prompts/partials/tone.jinja:2 in {added}: Anthropic API key sk-ant-ap***…AA" in out
    assert ANTHROPIC_KEY not in out


def test_a_secret_in_a_file_promptvc_does_not_read_is_not_its_business(support_repo, cli):
    support_repo.write("src/settings.py", f"KEY = '{ANTHROPIC_KEY}'\n")
    support_repo.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    support_repo.stage()
    code, out, _ = cli("check")
    assert code == 0 and "secret" not in out


def test_no_output_or_stored_file_ever_holds_the_api_key(
    model_repo, model_server, cli, monkeypatch
):
    """Every place a run's results go, searched for a planted key: stdout and stderr of each
    command, the JSON, JUnit and Markdown reports, an exported recording, and the database's bytes."""
    planted = f"sk-ant-api03-PLANTED{rand(40, seed=99)}"
    monkeypatch.setenv("ANTHROPIC_API_KEY", planted)
    out_dir = model_repo.root / "out"
    runs = [
        cli("eval", "--json", "--junit", str(out_dir / "eval.xml")),
        cli("log", "--json"),
        cli("responses", "export", str(out_dir / "responses.jsonl")),
    ]
    model_repo.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    model_repo.stage()
    runs.append(
        cli("check", "--markdown", str(out_dir / "check.md"), "--junit", str(out_dir / "check.xml"))
    )
    runs.append(cli("diff", "--staged", "--eval", "--json"))
    assert model_server.requests and all(
        planted in " ".join(r["headers"].values()) for r in model_server.requests
    ), "the runs reached the model with the planted key"
    for code, out, err in runs:
        assert code in (0, 1), err
        assert planted not in out and planted not in err
    written = [*out_dir.iterdir(), *(model_repo.root / ".promptvc").rglob("*")]
    assert len([p for p in written if p.is_file()]) >= 5
    for path in written:
        if path.is_file():
            assert planted.encode() not in path.read_bytes(), path
