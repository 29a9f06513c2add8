"""Rules that used to be written twice and drifted apart: each now has one home, and these
tests hold the places that use it to the same answer."""

from __future__ import annotations

import json


def test_a_branch_named_like_a_snapshot_is_a_branch(support_repo, cli):
    """`empty`, `index` and `worktree` are branch names like any other, never the sentinels."""
    support_repo.git("branch", "empty")
    support_repo.git("branch", "index")
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    support_repo.stage()
    code, out, _ = cli("render", "support/answer", "--rev", "index", "--var", "question=q", "--var", "policy=p")
    assert code == 0 and "Be warm and brief." in out and "Be formal." not in out
    code, out, _ = cli("eval", "--rev", "empty", "--provider", "echo", "--json")
    data = json.loads(out)
    assert data["snapshot"] == support_repo.head()[:7]
    assert [(s["id"], s["passed"] + s["failed"]) for s in data["sets"]] == [("support-answer", 2)]
