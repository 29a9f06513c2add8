"""Helpers several test modules share (test modules never import each other)."""

from __future__ import annotations

import sqlite3
import subprocess

from promptvc.evals.goldens import load_goldens
from promptvc.git.repo import GitRepo as Git
from promptvc.git.snapshot import INDEX, WORKTREE, Commit, Where, open_snapshot
from promptvc.prompts.render import Renderer


def db_rows(repo, query: str) -> list[dict]:
    conn = sqlite3.connect(repo.root / ".promptvc/promptvc.db")
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(query)]


def where(git: Git, text: str) -> Where:
    """A test's revision text as a typed location, as the CLI turns it into one."""
    return {"index": INDEX, "worktree": WORKTREE}.get(text) or Commit(git.resolve(text))


def renderer(repo, at: str = "worktree") -> Renderer:
    git = Git(repo.root)
    return Renderer(open_snapshot(git, where(git, at), ["prompts", "evals"]))


def goldens(repo) -> dict:
    return {
        g.id: g
        for g in load_goldens(
            open_snapshot(Git(repo.root), WORKTREE, ["prompts", "evals"]), "evals"
        )
    }


def git_commit(repo, *args: str, message: str = "change") -> subprocess.CompletedProcess[str]:
    """A real `git commit` through the installed hooks; git sends a hook's output to stderr, so
    both are read as one stream."""
    return subprocess.run(
        ["git", "commit", "-q", "-m", message, *args],
        cwd=repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
