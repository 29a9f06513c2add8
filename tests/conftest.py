"""Shared fixtures: an isolated environment, real git repositories, a Messages-API server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from tests.data import ANSWER, EXAMPLES, GOLDEN, MODEL_GOLDEN, TIERS

# CI lands a change on one run: there the property tests draw the same examples every time
# (`.ci/run` sets HYPOTHESIS_PROFILE=ci); on a developer's machine they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

pytest_plugins = ["tests.model_server"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.invalid",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.invalid",
    "GIT_AUTHOR_DATE": "2026-11-20T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-20T10:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """A temp home (and so its own template cache), no API key, an empty global git config, fixed author and committer."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    for key in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "GIT_INDEX_FILE",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "PROMPTVC_SKIP",
        "PRE_COMMIT_FROM_REF",
        "PRE_COMMIT_TO_REF",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PAGER", "cat")
    yield


class GitRepo:
    """A real repository built with the git CLI, not with the code under test."""

    def __init__(self, root: Path):
        self.root = root
        self.commits = 0

    def git(self, *args: str, check: bool = True, env: dict | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def write(self, path: str, text: str, *, dedent: bool = True) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")
        return target

    def write_bytes(self, path: str, data: bytes) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def stage(self, *paths: str) -> None:
        self.git("add", "--all", "--", *(paths or ["."]))

    def commit(self, message: str, *paths: str) -> str:
        self.stage(*paths)
        self.commits += 1
        date = f"2026-11-{10 + self.commits:02d}T10:00:00+00:00"
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def tag(self, name: str) -> None:
        self.git("tag", name)


@pytest.fixture
def object_format() -> str:
    """The repository's hash; a test runs in a SHA-256 repository too by parametrizing this."""
    return "sha1"


@pytest.fixture
def git_repo(tmp_path, monkeypatch, object_format) -> GitRepo:
    root = tmp_path / "repo"
    root.mkdir()
    repo = GitRepo(root)
    repo.git("init", "-q", "-b", "main", f"--object-format={object_format}")
    monkeypatch.chdir(root)
    return repo


@pytest.fixture
def support_repo(git_repo) -> GitRepo:
    """A repository with one prompt, a partial, an example set, tiers and a golden set, committed."""
    git_repo.write(".gitignore", ".promptvc/\n")
    git_repo.write("prompts/tiers.yaml", TIERS)
    git_repo.write("prompts/support/answer.jinja", ANSWER)
    git_repo.write("prompts/partials/tone.jinja", "Be warm and brief.\n")
    git_repo.write("prompts/examples/support.yaml", EXAMPLES)
    git_repo.write("evals/support-answer.yaml", GOLDEN)
    git_repo.commit("add the support answerer")
    return git_repo


@pytest.fixture
def model_repo(support_repo) -> GitRepo:
    """The support repository with its golden set judged on a model's answers."""
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    return support_repo


@pytest.fixture
def cli():
    """Run the real CLI in-process through click's runner; returns (exit code, stdout, stderr)."""
    from promptvc.cli import main

    def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
        with CliRunner().isolation(input=input) as (out, err, _mixed):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            return code, out.getvalue().decode(), err.getvalue().decode()

    return run
