"""The runtime API (`promptvc.load`, `render`, `PromptRequest`) and deploy bundles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import promptvc
from promptvc.bundle import BundleError
from tests.data import answer_by_rule
from tests.model_server import last_user_text

ROOT = Path(__file__).resolve().parent.parent
POLICY = "Refunds are accepted within 30 days of delivery."


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def on_the_wire(kwargs: dict) -> dict:
    """What the Anthropic SDK puts in the body for these keyword arguments."""
    body = {k: v for k, v in kwargs.items() if k != "extra_body"}
    body.update(kwargs.get("extra_body", {}))
    return body


def test_anthropic_is_byte_for_byte_the_body_eval_sends(model_repo, model_server, cli):
    model_server.rule = answer_by_rule
    cli("eval")
    assert model_server.calls == 2
    prompts = promptvc.load(".")
    for recorded in model_server.requests:
        body = recorded["body"]
        req = prompts.render("support/answer", question=last_user_text(body), policy=POLICY)
        assert canonical(on_the_wire(req.anthropic())) == canonical(body)
        assert req.anthropic()["extra_body"] == {"temperature": 0}  # as SDK 1.0+ takes it


def test_a_request_carries_its_config_messages_and_provenance(support_repo):
    head = support_repo.head()
    req = promptvc.load(".", rev="HEAD").render("support/answer", question="Hi?", policy=POLICY)
    assert req.model == "claude-haiku-4-5" and req.params == {"max_tokens": 512, "temperature": 0}
    assert req.system.startswith("You are a support agent. Policy:\n" + POLICY)
    assert req.messages[-1] == {"role": "user", "content": "Hi?"}
    blob = support_repo.git("rev-parse", "HEAD:prompts/support/answer.jinja").strip()
    assert req.provenance == promptvc.Provenance("support/answer", head, blob, "fast", None)
    chat = req.openai()
    assert chat["messages"][0] == {"role": "system", "content": req.system}
    assert chat["messages"][1:] == list(req.messages) and chat["temperature"] == 0
    assert (
        promptvc.load(".").render("support/answer", question="x", policy="y").provenance.commit
        == "worktree"
    )


def test_introspection(support_repo):
    prompts = promptvc.load(".")
    assert prompts.names() == ["support/answer"]
    info = prompts.get("support/answer")
    assert info.inputs == ("question", "policy") and info.tier == "fast"
    assert info.description == "Answer a support question from the policy"


def test_bad_variables_raise_prompt_error_with_the_cli_message(support_repo, cli):
    prompts = promptvc.load(".")
    with pytest.raises(promptvc.PromptError) as missing:
        prompts.render("support/answer", question="Hi?")
    code, _out, err = cli("render", "support/answer", "--var", "question=Hi?")
    assert code == 2 and err.strip() == f"promptvc: {missing.value}"
    with pytest.raises(promptvc.PromptError) as undeclared:
        prompts.render("support/answer", question="Hi?", policy="p", polcy="typo")
    code, _out, err = cli("render", "support/answer", "--var", "polcy=typo")
    assert code == 2 and str(undeclared.value).endswith(err.strip().split("--var polcy: ")[1])
    with pytest.raises(promptvc.PromptError, match="unknown prompt 'support/answr'.*did you mean"):
        prompts.render("support/answr", question="Hi?")
    assert isinstance(missing.value, promptvc.errors.UserError)


def test_importing_and_rendering_imports_no_cli_store_tui_or_sdk(support_repo):
    script = (
        "import sys, promptvc\n"
        "p = promptvc.load('.')\n"
        "p.render('support/answer', question='q', policy='p').anthropic()\n"
        "heavy = ('click', 'rich', 'sqlite_utils', 'textual', 'anthropic')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**_env(), "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "[]"


def _env() -> dict:
    import os

    return dict(os.environ)


# -- bundles --------------------------------------------------------------------------------


@pytest.fixture
def own_repo(git_repo):
    """This repository's own prompts, golden sets and settings, committed in a fresh repository."""
    for folder in ("prompts", "evals"):
        shutil.copytree(ROOT / folder, git_repo.root / folder)
    shutil.copy(ROOT / "promptvc.toml", git_repo.root / "promptvc.toml")
    git_repo.commit("the example prompts")
    return git_repo


def every_golden_case(root: Path):
    from promptvc.workspace import Workspace

    ws = Workspace.open(root)
    for golden in ws.goldens(ws.snapshot(ws.resolve("HEAD"))):
        for case in golden.cases:
            yield golden.prompt, case.id, dict(case.vars)


def test_a_bundle_renders_every_golden_case_as_the_revision_does(own_repo, cli, tmp_path):
    cases = list(every_golden_case(own_repo.root))
    from_rev = [promptvc.load(".", rev="HEAD").render(p, **v) for p, _id, v in cases]
    code, _out, _err = cli("bundle", "-o", str(tmp_path / "b.json"))
    assert code == 0
    shutil.rmtree(own_repo.root / ".git")  # no git from here on
    bundled = promptvc.load(bundle=tmp_path / "b.json")
    assert bundled.names() == ["extract/invoice", "summarize/ticket", "support/answer"]
    from_bundle = [bundled.render(p, **v) for p, _id, v in cases]
    assert len(cases) >= 10 and {p for p, _i, _v in cases} == set(bundled.names())
    for a, b in zip(from_bundle, from_rev, strict=True):
        assert canonical(a.anthropic()) == canonical(b.anthropic())
        assert canonical(a.openai()) == canonical(b.openai())
        assert (a.provenance.commit, a.provenance.template_sha) == (
            b.provenance.commit,
            b.provenance.template_sha,
        )
        assert a.provenance.bundle_hash and a.provenance.bundle_hash.startswith("sha256:")
        assert b.provenance.bundle_hash is None


@pytest.fixture
def bundle_file(support_repo, cli, tmp_path) -> Path:
    target = tmp_path / "prompts.bundle.json"
    code, _out, err = cli("bundle", "-o", str(target))
    assert code == 0 and "1 prompt, 4 files" in err
    return target


def _edit(path: Path, change) -> None:
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


def test_a_tampered_truncated_or_newer_bundle_is_refused(bundle_file, cli):
    cases = {
        "tampered": lambda p: _edit(
            p,
            lambda b: b["files"]["prompts/partials/tone.jinja"].update(text="Be rude.\n"),
        ),
        "truncated": lambda p: p.write_text(p.read_text()[:300]),
        "newer": lambda p: _edit(p, lambda b: b.update(format_version=99, promptvc="9.0.0")),
        "not a bundle": lambda p: p.write_text("{}"),
    }
    messages = {
        "tampered": "content hash does not match",
        "truncated": "not a complete bundle (truncated",
        "newer": "written by promptvc 9.0.0 in bundle format 99",
        "not a bundle": "not a promptvc bundle",
    }
    original = bundle_file.read_text()
    for kind, damage in cases.items():
        bundle_file.write_text(original)
        damage(bundle_file)
        with pytest.raises(BundleError, match=re.escape(messages[kind])) as caught:
            promptvc.load(bundle=bundle_file)
        assert isinstance(caught.value, promptvc.PromptError)
        code, out, err = cli("bundle", "--check", str(bundle_file))
        assert code == 2 and out == "" and err.count("\n") == 1, kind
        assert err.startswith(f"promptvc: {bundle_file}") and messages[kind] in err


def test_a_blob_that_does_not_match_its_sha_is_refused_even_with_a_fresh_hash(bundle_file):
    from promptvc.bundle import content_hash

    def swap(body):
        body["files"]["prompts/partials/tone.jinja"]["text"] = "Be rude.\n"
        body["hash"] = content_hash(body)

    _edit(bundle_file, swap)
    with pytest.raises(BundleError, match="tone.jinja: content does not match its blob sha"):
        promptvc.load(bundle=bundle_file)


def test_check_says_whether_a_bundle_still_matches_a_revision(bundle_file, support_repo, cli):
    code, out, _err = cli("bundle", "--check", str(bundle_file))
    assert code == 0 and "matches HEAD" in out
    support_repo.write("prompts/partials/tone.jinja", "Be warm, brief and exact.\n")
    support_repo.commit("tone")
    code, out, _err = cli("bundle", "--check", str(bundle_file))
    assert code == 1 and "does not match HEAD" in out and "prompts/partials/tone.jinja" in out
    code, out, _err = cli("bundle", "--check", str(bundle_file), "--rev", "HEAD~1")
    assert code == 0


def test_a_bundle_of_named_prompts_holds_only_what_they_reach(support_repo, cli, tmp_path):
    support_repo.write("prompts/other.jinja", "Say {{ word }}.\n")
    support_repo.commit("another prompt")
    code, _out, _err = cli("bundle", "-o", str(tmp_path / "b.json"), "support/answer")
    assert code == 0
    body = json.loads((tmp_path / "b.json").read_text())
    assert sorted(body["files"]) == [
        "prompts/examples/support.yaml",
        "prompts/partials/tone.jinja",
        "prompts/support/answer.jinja",
        "prompts/tiers.yaml",
    ]
    prompts = promptvc.load(bundle=tmp_path / "b.json")
    with pytest.raises(promptvc.PromptError, match="unknown prompt 'other'"):
        prompts.render("other", word="hi")


def test_a_prompt_that_cannot_render_is_not_bundled(support_repo, cli, tmp_path):
    support_repo.write("prompts/broken.jinja", "{% if x %}never closed\n")
    support_repo.commit("broken")
    code, out, err = cli("bundle", "-o", str(tmp_path / "b.json"))
    assert code == 2 and err.count("\n") == 1 and "prompts/broken.jinja:1" in err
    assert not (tmp_path / "b.json").exists()


def test_a_bundle_is_safe_to_share_across_threads(bundle_file):
    prompts = promptvc.load(bundle=bundle_file)
    questions = [f"Question {i}?" for i in range(400)]
    expected = {
        q: canonical(
            promptvc.load(bundle=bundle_file)
            .render("support/answer", question=q, policy=POLICY)
            .anthropic()
        )
        for q in questions[:8]
    }
    failures: list[str] = []
    start = threading.Barrier(8)

    def work(offset: int) -> None:
        start.wait()
        for i in range(200):
            q = questions[(offset + i) % 8]
            got = canonical(prompts.render("support/answer", question=q, policy=POLICY).anthropic())
            if got != expected[q]:
                failures.append(q)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pinning_to_a_tag_renders_what_was_tagged(support_repo):
    support_repo.tag("prod")
    support_repo.write("prompts/partials/tone.jinja", "Be curt.\n")
    support_repo.commit("curt")
    pinned = promptvc.load(".", rev="prod").render("support/answer", question="q", policy="p")
    moving = promptvc.load(".", rev="HEAD").render("support/answer", question="q", policy="p")
    assert "Be warm and brief." in pinned.system and "Be curt." in moving.system
    with pytest.raises(promptvc.PromptError, match="unknown revision"):
        promptvc.load(".", rev="no-such-tag")


def test_the_readme_example_runs_on_this_repositorys_prompts(own_repo, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- readme: python -->\s*\n```python\n(.*?)```", readme, re.S)
    assert block is not None
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "claude-haiku-4-5 {'max_tokens': 384, 'temperature': 0}"
    blob = own_repo.git("rev-parse", "HEAD:prompts/support/answer.jinja").strip()
    assert out[2] == f"worktree {blob[:7]} fast"
    assert (
        out[3] == "['extract/invoice', 'summarize/ticket', 'support/answer'] ('question', 'policy')"
    )


def test_a_request_keeps_its_vars_and_one_built_from_its_fields_sends_the_same(support_repo):
    req = promptvc.load(".").render("support/answer", question="Hi?", policy=POLICY)
    assert req.vars == {"question": "Hi?", "policy": POLICY}
    rebuilt = promptvc.PromptRequest(
        req.name, req.model, req.system, req.messages, req.params, req.provenance
    )
    assert rebuilt == req
    assert canonical(rebuilt.anthropic()) == canonical(req.anthropic())
    assert canonical(rebuilt.openai()) == canonical(req.openai())


def test_a_bundle_of_a_tag_renders_as_the_tag_does(support_repo, cli, tmp_path):
    support_repo.tag("prod")
    support_repo.write("prompts/partials/tone.jinja", "Be curt.\n")
    support_repo.commit("curt")
    code, out, _err = cli("bundle", "--rev", "prod", "-o", "-")
    assert code == 0
    (tmp_path / "prod.json").write_text(out)
    from_bundle = promptvc.load(bundle=tmp_path / "prod.json").render(
        "support/answer", question="q", policy="p"
    )
    from_tag = promptvc.load(".", rev="prod").render("support/answer", question="q", policy="p")
    assert canonical(from_bundle.anthropic()) == canonical(from_tag.anthropic())
    assert from_bundle.provenance.commit == support_repo.git("rev-parse", "prod").strip()
    assert cli("bundle", "--check", str(tmp_path / "prod.json"), "--rev", "prod")[0] == 0
    assert cli("bundle", "--check", str(tmp_path / "prod.json"))[0] == 1
