"""promptvc's git notes: one note per commit on `refs/notes/promptvc`, read in bulk, merged by a rule.

All notes are read with one `git notes list` and one `git cat-file --batch`, so history over
thousands of commits costs two processes. Two writers (two CI jobs) merge with git's own notes
merge; where both wrote a note for the same commit, the caller's rule combines the two texts
(git's `manual` strategy leaves them in NOTES_MERGE_WORKTREE, the rule's text replaces each, and
the merge is committed), so the ref's history stays a plain git notes history any git can read.
"""

from __future__ import annotations

from collections.abc import Callable

from promptvc.errors import GitFailed
from promptvc.git.remotes import tracking_name
from promptvc.git.repo import GitRepo

NOTES_REF = "refs/notes/promptvc"


def tracking_ref(remote: str) -> str:
    """Where a remote's notes are fetched to before they are merged into ours."""
    return f"refs/notes/promptvc-remote/{tracking_name(remote)}"


def _as_someone(repo: GitRepo) -> list[str]:
    """A notes commit needs a committer; a CI checkout often has none configured, so promptvc
    signs its own notes there rather than failing after the run."""
    code, _out, _err = repo.attempt("var", "GIT_COMMITTER_IDENT")
    return [] if code == 0 else ["-c", "user.name=promptvc", "-c", "user.email=promptvc@localhost"]


def note_blobs(repo: GitRepo, ref: str = NOTES_REF) -> dict[str, str]:
    """{annotated commit: note blob} of every note on a ref (nothing when the ref does not exist)."""
    if repo.try_ref(ref) is None:
        return {}
    out = repo.run("notes", f"--ref={ref}", "list").decode()
    pairs = (line.split() for line in out.splitlines())
    return {commit: blob for blob, commit in pairs}


def read_notes(repo: GitRepo, ref: str = NOTES_REF) -> dict[str, bytes]:
    """{commit: note text} of every note on a ref, in two git processes whatever their number."""
    return read_notes_within(repo, ref)[0]


def read_notes_within(
    repo: GitRepo, ref: str = NOTES_REF, max_bytes: int | None = None
) -> tuple[dict[str, bytes], dict[str, int]]:
    """({commit: note text} of the notes on a ref of at most `max_bytes`, {commit: size} of
    the larger ones, left unread)."""
    blobs = note_blobs(repo, ref)
    oversized: dict[str, int] = {}
    if max_bytes is not None:
        sizes = repo.blob_sizes(list(blobs.values()))
        oversized = {c: sizes[b] for c, b in blobs.items() if sizes.get(b, 0) > max_bytes}
        blobs = {c: b for c, b in blobs.items() if c not in oversized}
    texts = repo.cat_blobs(list(blobs.values()))
    return {commit: texts[blob] for commit, blob in blobs.items() if blob in texts}, oversized


def read_note(repo: GitRepo, commit: str, ref: str = NOTES_REF) -> bytes | None:
    code, out, _err = repo.attempt("notes", f"--ref={ref}", "show", commit)
    return out if code == 0 else None


def write_note(repo: GitRepo, commit: str, text: bytes, ref: str = NOTES_REF) -> None:
    """Replace a commit's note (the caller has merged what was there)."""
    repo.run(
        *_as_someone(repo),
        "notes",
        f"--ref={ref}",
        "add",
        "--force",
        "--file=-",
        commit,
        input=text,
    )


def merge_notes(repo: GitRepo, theirs: str, combine: Callable[[bytes, bytes], bytes]) -> int:
    """Merge another notes ref into ours; `combine(ours, theirs)` settles each commit both annotated
    differently. Returns how many commits needed it."""
    theirs_sha = repo.try_ref(theirs)
    if theirs_sha is None:
        return 0
    ours_sha = repo.try_ref(NOTES_REF)
    if ours_sha is None:
        repo.run("update-ref", NOTES_REF, theirs_sha)
        return 0
    if repo.git_path("NOTES_MERGE_PARTIAL").exists():  # a merge left half-done by a killed process
        repo.attempt("notes", f"--ref={NOTES_REF}", "merge", "--abort")
    someone = _as_someone(repo)
    code, _out, err = repo.attempt(
        *someone, "notes", f"--ref={NOTES_REF}", "merge", "--quiet", "--strategy=manual", theirs
    )
    if code == 0:
        return 0
    worktree = repo.git_path("NOTES_MERGE_WORKTREE")
    conflicted = sorted(p for p in worktree.iterdir()) if worktree.is_dir() else []
    if not conflicted:
        raise GitFailed(f"git notes merge failed: {err}")
    ours_text, theirs_text = read_notes(repo, NOTES_REF), read_notes(repo, theirs)
    for path in conflicted:
        commit = path.name
        path.write_bytes(combine(ours_text.get(commit, b""), theirs_text.get(commit, b"")))
    repo.run(*someone, "notes", f"--ref={NOTES_REF}", "merge", "--commit")
    return len(conflicted)
