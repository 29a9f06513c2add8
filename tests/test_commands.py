import json


def test_render_with_case_and_plain(support_repo, cli):
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert code == 0, err
    assert out.startswith(
        "system:\nYou are a support agent. Policy:\nRefunds are accepted within 30 days"
    )
    assert out.endswith("user:\nHow long do I have to return an item?\n")


def test_render_shows_effective_config_with_sources(support_repo, cli):
    code, out, _ = cli("render", "support/answer", "--var", "question=hi", "--var", "policy=p")
    assert code == 0
    assert "model           claude-haiku-4-5   (tiers.yaml: fast)" in out
    assert "temperature     0   (front matter)" in out


def test_render_at_a_revision_and_json(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "new tone\n")
    support_repo.commit("tone")
    code, out, _ = cli(
        "render", "support/answer", "--rev", "HEAD~1", "--case", "refund-window", "--json"
    )
    assert code == 0 and "Be warm and brief." in json.loads(out)["system"]


def test_render_errors_are_one_line_exit_2(support_repo, cli):
    code, _, err = cli("render", "support/answer")
    assert (
        code == 2
        and err
        == "promptvc: prompts/support/answer.jinja: missing variable 'question' (declared in inputs)\n"
    )
    code, _, err = cli("render", "nope")
    assert code == 2 and "unknown prompt 'nope'" in err
    code, _, err = cli("render", "support/answer", "--case", "missing-case")
    assert code == 2 and "no golden case 'missing-case'" in err
    code, _, err = cli("render", "support/answer", "--var", "novalue")
    assert code == 2 and "--var takes key=value" in err
    code, out, _ = cli("render", "support/answer", "--allow-missing", "--plain")
    assert code == 0 and "{{ question }}" in out


def test_render_refuses_a_variable_the_prompt_does_not_declare(support_repo, cli):
    code, _, err = cli(
        "render", "support/answer", "--case", "refund-window", "--var", "questoin=hi"
    )
    assert code == 2
    assert err == (
        "promptvc: --var questoin: prompt 'support/answer' has no input 'questoin' (did you mean "
        "'question'?); its inputs: question, policy\n"
    )
    code, _, err = cli("render", "support/answer", "--case", "refund-window", "--var", "extra=y")
    assert code == 2 and "has no input 'extra'; its inputs: question, policy" in err
    # a prompt that declares no inputs has nothing to check a --var against
    support_repo.write("prompts/free.jinja", "Hello {{ name }}\n")
    code, out, _ = cli("render", "free", "--var", "name=Bo", "--var", "extra=y", "--plain")
    assert code == 0 and "Hello Bo" in out


def test_init_scaffolds_and_refuses_to_overwrite(git_repo, cli):
    code, out, _ = cli("init")
    assert code == 0 and "created promptvc.toml" in out
    assert (git_repo.root / ".gitignore").read_text() == ".promptvc/\n"
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert code == 0, err
    (git_repo.root / "prompts/partials/tone.jinja").write_text("mine\n")
    code, _, err = cli("init")
    assert code == 2 and "already exists" in err
    assert (git_repo.root / "prompts/partials/tone.jinja").read_text() == "mine\n"


def test_bad_promptvc_toml(git_repo, cli):
    git_repo.write("promptvc.toml", "[gate]\nmax_drop = \n")
    code, _, err = cli("diff")
    assert code == 2 and err.startswith("promptvc: promptvc.toml: invalid TOML")
