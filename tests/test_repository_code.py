"""Code that a repository supplies runs only when the user asks for it (`python` assertions),
never from a committed cache, a shadowing package or a stray module."""

from __future__ import annotations

import hashlib
import hmac
import marshal
from pathlib import Path

from promptvc.prompts.templatecache import FORMAT
from tests.helpers import git_commit

ECHO_GOLDEN = """\
prompt: support/answer
provider: echo
vars: {policy: "Refunds are accepted within 30 days of delivery."}
cases:
  - id: refund-window
    vars: {question: "How long do I have to return an item?"}
    assert:
      - {type: contains, value: "30 days"}
"""


def crafted_entry(path: str, marker: Path) -> bytes:
    """A marshalled cache entry whose code object writes `marker` when run."""
    payload = compile(f"open({str(marker)!r}, 'w').write('pwned')", path, "exec")
    return marshal.dumps((FORMAT, path, payload, (), False, ()))


def blob_sha(repo, path: str) -> str:
    return repo.git("rev-parse", f"HEAD:{path}").strip()


def test_a_committed_template_cache_is_never_run(support_repo, cli, tmp_path):
    marker = tmp_path / "pwned"
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    support_repo.commit("echo golden")
    for template in ("prompts/support/answer.jinja", "prompts/partials/tone.jinja"):
        sha = blob_sha(support_repo, template)
        where = hashlib.sha1(template.encode()).hexdigest()[:8]
        support_repo.write_bytes(
            f".promptvc/cache/templates/{sha[:2]}/{sha[2:]}-{where}",
            crafted_entry(template, marker),
        )
    support_repo.git("add", "-f", ".promptvc/cache")
    support_repo.commit("a cache nobody asked for")
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert not marker.exists()
    assert code == 0 and "30 days" in out, err
    code, out, err = cli("eval")
    assert not marker.exists()
    assert (
        code == 2 and "holds tracked files" in err
    )  # a tracked .promptvc/ could hold a database too
    support_repo.write("promptvc.toml", f'[paths]\ndb = "{tmp_path / "state/promptvc.db"}"\n')
    code, out, err = cli("eval")
    assert not marker.exists()
    assert code == 0, out + err


def test_a_cache_entry_without_this_machines_hmac_is_never_run(support_repo, cli, tmp_path):
    from promptvc.prompts.templatecache import template_cache_dir

    marker = tmp_path / "pwned"
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    support_repo.commit("echo golden")
    cache = template_cache_dir(support_repo.root)
    for template in ("prompts/support/answer.jinja", "prompts/partials/tone.jinja"):
        sha = blob_sha(support_repo, template)
        where = hashlib.sha1(template.encode()).hexdigest()[:8]
        payload = compile(f"open({str(marker)!r}, 'w').write('pwned')", template, "exec")
        data = marshal.dumps((FORMAT, sha, template, payload, (), False, ()))
        forged = hmac.new(b"\0" * 32, data, hashlib.sha256).digest() + data
        target = cache / sha[:2] / f"{sha[2:]}-{where}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(forged)
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert not marker.exists()
    assert code == 0 and "30 days" in out, err
    code, out, err = cli("eval")
    assert not marker.exists()
    assert code == 0, out + err


def test_the_template_cache_lives_outside_the_repository_and_is_reused(support_repo, cli):
    from promptvc.prompts.templatecache import (
        TemplateCache,
        template_cache_dir,
        user_cache_dir,
    )

    assert cli("render", "support/answer", "--case", "refund-window")[0] == 0
    assert not (support_repo.root / ".promptvc/cache").exists()
    key = user_cache_dir() / "key"
    assert key.stat().st_mode & 0o777 == 0o600
    sha = blob_sha(support_repo, "prompts/support/answer.jinja")
    fresh = TemplateCache.on_disk(template_cache_dir(support_repo.root))
    assert fresh.get(sha, "prompts/support/answer.jinja") is not None  # verified, so used
    key.chmod(0o644)  # a key others can read could sign anything: the cache stays in memory
    assert (
        TemplateCache.on_disk(template_cache_dir(support_repo.root)).get(
            sha, "prompts/support/answer.jinja"
        )
        is None
    )


def test_a_database_inside_what_git_tracks_is_refused(support_repo, cli):
    support_repo.write("promptvc.toml", '[paths]\ndb = "evals/.state/promptvc.db"\n')
    support_repo.write("evals/.state/cache/notes.txt", "committed beside the database\n")
    support_repo.commit("state beside the goldens")
    code, _, err = cli("eval")
    assert code == 2
    assert err.strip().count("\n") == 0 and "evals/.state" in err and "tracked" in err
    support_repo.write("promptvc.toml", '[paths]\ndb = ".state/promptvc.db"\n')
    support_repo.write_bytes(".state/promptvc.db-wal", b"crafted")
    support_repo.commit("a committed write-ahead log")
    code, _, err = cli("eval")
    assert code == 2 and ".state" in err


def test_the_hook_runs_the_installed_promptvc_not_the_repositorys(support_repo, cli, tmp_path):
    marker = tmp_path / "pwned"
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    support_repo.write("promptvc/__init__.py", f"open({str(marker)!r}, 'a').write('promptvc ')\n")
    support_repo.write("promptvc/__main__.py", "raise SystemExit(0)  # a gate that always allows\n")
    support_repo.write("yaml.py", f"open({str(marker)!r}, 'a').write('yaml ')\n")
    support_repo.commit("a package that shadows the tool")
    assert cli("hook", "install")[0] == 0
    support_repo.write(
        "prompts/support/answer.jinja", "---\ntier: fast\n---\nuser:\nI cannot say, sorry.\n"
    )
    support_repo.stage()
    result = git_commit(support_repo)
    assert not marker.exists(), marker.read_text()
    assert result.returncode == 1 and "blocked:" in result.stdout, result.stdout


def test_a_hook_whose_python_is_gone_says_how_to_fix_it(support_repo):
    from promptvc.commands.hook import hook_script

    hook = support_repo.root / ".git/hooks/pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(hook_script("/nowhere/venv/bin/python"))
    hook.chmod(0o755)
    support_repo.write("prompts/partials/tone.jinja", "Be brief.\n")
    support_repo.stage()
    result = git_commit(support_repo)
    assert result.returncode == 1
    assert result.stdout == (
        "promptvc: the hook's Python (/nowhere/venv/bin/python) is gone; "
        "run 'promptvc hook install' again\n"
    )


def test_diff_render_and_log_never_run_a_commits_python(support_repo, cli, tmp_path):
    marker = tmp_path / "ran"
    support_repo.write("checks/__init__.py", "")
    support_repo.write(
        "checks/support.py",
        f"open({str(marker)!r}, 'w')\n\ndef ok(output, context):\n    return True\n",
    )
    support_repo.write(
        "evals/support-answer.yaml",
        ECHO_GOLDEN.replace(
            '{type: contains, value: "30 days"}', '{type: python, value: "checks.support:ok"}'
        ),
    )
    support_repo.commit("a python check")
    support_repo.write(
        "checks/support.py",
        f"open({str(marker)!r}, 'w')\n\ndef ok(output, context):\n    return 1\n",
    )
    support_repo.commit("a changed python check")
    for args in (
        ("diff", "HEAD~1"),
        ("diff", "HEAD~2", "HEAD"),
        ("render", "support/answer", "--case", "refund-window"),
        ("log",),
        ("log", "support-answer"),
    ):
        code, out, err = cli(*args)
        assert code == 0, (args, out, err)
        assert not marker.exists(), args
    assert cli("eval")[0] == 0 and marker.exists()  # the command that does, when asked
