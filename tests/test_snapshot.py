import os

import pytest

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo as Git
from promptvc.git.snapshot import INDEX, blob_sha, open_snapshot
from tests.helpers import where as where_of

PATHS = ["prompts", "evals", "promptvc.toml"]


def snap(repo, where):
    return open_snapshot(Git(repo.root), where_of(Git(repo.root), where), PATHS)


def test_commit_index_and_worktree_each_see_their_own_bytes(support_repo):
    support_repo.write("prompts/partials/tone.jinja", "staged tone\n")
    support_repo.stage("prompts/partials/tone.jinja")
    support_repo.write("prompts/partials/tone.jinja", "worktree tone\n")
    assert (
        snap(support_repo, "HEAD").read_text("prompts/partials/tone.jinja")
        == "Be warm and brief.\n"
    )
    assert snap(support_repo, "index").read_text("prompts/partials/tone.jinja") == "staged tone\n"
    assert (
        snap(support_repo, "worktree").read_text("prompts/partials/tone.jinja") == "worktree tone\n"
    )


def test_worktree_includes_untracked_files_marked_but_not_ignored_ones(support_repo):
    support_repo.write(".gitignore", "prompts/scratch/\n")
    support_repo.write("prompts/new.jinja", "hello\n")
    support_repo.write("prompts/scratch/tmp.jinja", "ignored\n")
    worktree = snap(support_repo, "worktree")
    assert worktree.files["prompts/new.jinja"].untracked
    assert not worktree.files["prompts/support/answer.jinja"].untracked
    assert "prompts/scratch/tmp.jinja" not in worktree.files


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_worktree_sha_and_empty_tree_match_git(support_repo, object_format):
    ref = snap(support_repo, "worktree").files["prompts/tiers.yaml"]
    assert ref.sha == support_repo.git("hash-object", "prompts/tiers.yaml").strip()
    assert ref.sha == snap(support_repo, "index").files["prompts/tiers.yaml"].sha
    repo = Git(support_repo.root)
    assert repo.object_format == object_format
    assert repo.empty_tree == support_repo.git("hash-object", "-t", "tree", "/dev/null").strip()
    assert blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_index_honours_git_index_file(support_repo, monkeypatch, tmp_path):
    other_index = tmp_path / "other-index"
    env = {"GIT_INDEX_FILE": str(other_index)}
    support_repo.git("read-tree", "HEAD", env=env)
    support_repo.write("prompts/partials/tone.jinja", "only in the other index\n")
    support_repo.git("add", "prompts/partials/tone.jinja", env=env)
    monkeypatch.setenv("GIT_INDEX_FILE", str(other_index))
    assert (
        snap(support_repo, "index").read_text("prompts/partials/tone.jinja")
        == "only in the other index\n"
    )
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert (
        snap(support_repo, "index").read_text("prompts/partials/tone.jinja")
        == "Be warm and brief.\n"
    )


def test_relative_git_index_file_is_made_absolute(support_repo, monkeypatch):
    support_repo.git("read-tree", "HEAD", env={"GIT_INDEX_FILE": ".git/alt-index"})
    monkeypatch.setenv("GIT_INDEX_FILE", ".git/alt-index")
    repo = Git.discover(support_repo.root)
    assert os.path.isabs(os.environ["GIT_INDEX_FILE"])
    assert "prompts/tiers.yaml" in open_snapshot(repo, INDEX, PATHS).files


def test_any_revision_form_resolves(support_repo):
    first = support_repo.head()
    support_repo.write("prompts/partials/tone.jinja", "v2\n")
    support_repo.commit("v2")
    support_repo.tag("v2")
    assert snap(support_repo, "HEAD~1").commit == first
    assert snap(support_repo, first[:8]).commit == first
    assert snap(support_repo, "v2").read_text("prompts/partials/tone.jinja") == "v2\n"
    assert snap(support_repo, "main").commit == support_repo.head()


def test_unknown_revision_is_a_user_error(support_repo):
    with pytest.raises(UserError, match="unknown revision: nope"):
        snap(support_repo, "nope")


def test_not_a_git_repository(tmp_path):
    with pytest.raises(UserError, match="not a git repository"):
        Git.discover(tmp_path)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x01binary", "binary"),
        (b"caf\xe9", "not UTF-8"),
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 3\n",
            "Git LFS pointer",
        ),
    ],
)
def test_files_that_are_not_text_are_refused(support_repo, data, message):
    support_repo.write_bytes("prompts/partials/tone.jinja", data)
    with pytest.raises(UserError, match=message):
        snap(support_repo, "worktree").read_text("prompts/partials/tone.jinja")


def test_bom_and_crlf_are_normalised(support_repo):
    support_repo.write_bytes("prompts/partials/tone.jinja", b"\xef\xbb\xbfline one\r\nline two\r\n")
    assert (
        snap(support_repo, "worktree").read_text("prompts/partials/tone.jinja")
        == "line one\nline two\n"
    )


def test_symlinks_are_refused(support_repo):
    os.symlink("/etc/passwd", support_repo.root / "prompts/partials/evil.jinja")
    support_repo.commit("a link")
    for where in ("HEAD", "worktree"):
        with pytest.raises(UserError, match="symlink"):
            snap(support_repo, where).read_text("prompts/partials/evil.jinja")


@pytest.mark.parametrize("folder", ["prompts", "evals"])
def test_a_linked_prompts_or_evals_folder_is_refused(support_repo, cli, folder):
    # git lists a linked folder as one file: nothing under it would be read, diffed or gated.
    os.rename(support_repo.root / folder, support_repo.root / f"shared-{folder}")
    os.symlink(f"shared-{folder}", support_repo.root / folder)
    support_repo.commit("share the folder")
    for where in ("HEAD", "index", "worktree"):
        with pytest.raises(
            UserError, match=f"^{folder}: is a symlink; promptvc refuses to follow links$"
        ):
            snap(support_repo, where)
    line = f"promptvc: {folder}: is a symlink; promptvc refuses to follow links\n"
    assert cli("eval") == (2, "", line)
    assert cli("diff", "HEAD") == (2, "", line)
    # a change behind the link is not under a watched path in git's eyes; the gate still refuses
    shared = support_repo.root / f"shared-{folder}"
    target = next(p for p in sorted(shared.rglob("*")) if p.is_file())
    target.write_text(target.read_text() + "\n# changed\n")
    support_repo.stage()
    assert cli("check") == (2, "", line)


def test_bulk_read_uses_one_process_for_many_blobs(support_repo):
    for i in range(50):
        support_repo.write(f"prompts/many/p{i}.jinja", f"prompt {i}\n")
    support_repo.commit("many")
    snapshot = snap(support_repo, "HEAD")
    paths = snapshot.under("prompts/many")
    calls = []
    original = snapshot.repo.run
    snapshot.repo.run = lambda *a, **k: (calls.append(a[0]), original(*a, **k))[1]
    snapshot.prefetch(paths)
    assert calls == ["cat-file"]
    assert snapshot.read_text("prompts/many/p7.jinja") == "prompt 7\n"
