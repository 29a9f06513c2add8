"""One owner for what a process keeps: the workspace's Caches, bounded."""

import ast
from pathlib import Path

from promptvc.caches import Bounded, Caches
from promptvc.git.snapshot import WORKTREE
from promptvc.workspace import Workspace


def test_bounded_forgets_the_oldest_past_its_budget():
    cache = Bounded(10, len)
    cache["a"], cache["b"] = b"12345", b"1234"
    cache["c"] = b"123"
    assert "a" not in cache and "b" in cache and "c" in cache and cache.used == 7
    cache.setdefault("c", b"x")
    cache["b"] = b"1"  # replaced: its weight counted once
    assert cache.used == 4
    entries = Bounded(2)
    entries.update({key: key for key in "xyz"})
    assert list(entries) == ["y", "z"]


def test_a_workspace_owns_the_caches_of_every_snapshot_it_opens(support_repo):
    ws = Workspace.open(support_repo.root)
    worktree, head = ws.snapshot(WORKTREE), ws.snapshot(ws.resolve("HEAD"))
    assert worktree.caches is ws.caches and head.caches is ws.caches
    ws.renderer(head).render("support/answer", {"question": "q", "policy": "p"})
    assert len(ws.caches.blobs) and len(ws.caches.prompts) and len(ws.caches.yaml)
    other = Workspace.open(support_repo.root)
    assert other.caches is not ws.caches and not len(other.caches.prompts)


def test_a_snapshot_larger_than_the_blob_budget_still_reads(support_repo):
    ws = Workspace.open(support_repo.root)
    ws.caches = Caches(blob_bytes=16)
    snapshot = ws.snapshot(ws.resolve("HEAD"))
    assert snapshot.read_text("prompts/partials/tone.jinja") == "Be warm and brief.\n"
    assert ws.caches.blobs.used <= 16 or len(ws.caches.blobs) == 1


def test_no_module_keeps_a_cache_of_its_own():
    """Module-level dicts that fill up at run time belong on the workspace's Caches."""
    offenders = []
    for path in Path(__file__).parent.parent.joinpath("promptvc").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            target = (
                node.target
                if isinstance(node, ast.AnnAssign)
                else (
                    node.targets[0]
                    if isinstance(node, ast.Assign) and len(node.targets) == 1
                    else None
                )
            )
            value = getattr(node, "value", None)
            empty = (isinstance(value, ast.Dict) and not value.keys) or (
                isinstance(value, ast.Call)
                and getattr(value.func, "id", "") in ("dict", "TemplateCache")
            )
            if isinstance(target, ast.Name) and empty:
                offenders.append(f"{path.name}:{target.id}")
    assert offenders == ["__init__.py:PROVIDERS"]  # a registry, filled at import, not a cache


def test_the_collector_and_sys_path_are_the_entry_points_alone(support_repo, cli):
    import gc
    import sys

    support_repo.write(
        "checks/support.py", "import checks.helper\ndef ok(output, context):\n    return True\n"
    )
    support_repo.write("checks/helper.py", "X = 1\n")
    support_repo.write("checks/__init__.py", "")
    support_repo.write(
        "evals/py.yaml",
        """\
        prompt: support/answer
        provider: echo
        vars: {policy: P, question: Q}
        cases:
          - id: py
            assert: [{type: python, value: "checks.support:ok"}]
        """,
    )
    path = list(sys.path)
    code, out, err = cli("eval", "py")
    assert code == 0, out + err
    assert gc.isenabled() and sys.path == path
    library = [
        p
        for p in Path(__file__).parent.parent.joinpath("promptvc").rglob("*.py")
        if p.name != "cli.py"
    ]
    assert not [p.name for p in library if "gc." in p.read_text() or "import gc" in p.read_text()]


def test_a_snapshot_above_the_blob_budget_reads_each_file_once_more_at_most(
    support_repo, monkeypatch
):
    ws = Workspace.open(support_repo.root)
    ws.caches = Caches(blob_bytes=64)
    snapshot = ws.snapshot(ws.resolve("HEAD"))
    batches = []
    real = ws.repo.cat_blobs
    monkeypatch.setattr(ws.repo, "cat_blobs", lambda shas: batches.append(len(shas)) or real(shas))
    for path in sorted(snapshot.files):
        snapshot.read_bytes(path)
    assert batches[0] == len(snapshot.files) and all(n == 1 for n in batches[1:])
    assert len(batches) <= len(snapshot.files) + 1
