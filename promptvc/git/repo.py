"""The one place that talks to git.

Everything goes through the git CLI: the index must be read with it (GitPython's
IndexFile ignores GIT_INDEX_FILE, which is how a hook sees the staged snapshot),
blobs are read in bulk through one `git cat-file --batch`, and a hook that has
nothing to check must not pay for importing a git library.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from promptvc.errors import GitFailed, UserError

SYMLINK_MODE = "120000"


def _absolutize_index_env() -> None:
    # git hands a hook a GIT_INDEX_FILE relative to its cwd; we may chdir.
    index = os.environ.get("GIT_INDEX_FILE")
    if index and not os.path.isabs(index):
        os.environ["GIT_INDEX_FILE"] = os.path.abspath(index)


def _git(
    args: list[str], cwd: Path, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Every git process starts here, so a missing git binary is one line, not a traceback."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True)
    except FileNotFoundError:
        raise GitFailed(
            "git is not installed (or not on PATH); promptvc runs the git command line"
        ) from None
    except OSError as exc:
        raise GitFailed(f"could not run git: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    sha: str


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    timestamp: int
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]


def object_id(object_format: str, kind: str, data: bytes) -> str:
    """The id git gives an object, in the repository's hash (sha1 or sha256)."""
    return hashlib.new(object_format, b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


class GitRepo:
    def __init__(self, root: Path):
        self.root = root
        self._object_format: str | None = None

    @classmethod
    def discover(cls, start: Path | None = None) -> GitRepo:
        _absolutize_index_env()
        start = Path(start or os.getcwd())
        proc = _git(["rev-parse", "--show-toplevel"], start)
        top = proc.stdout.decode("utf-8", "surrogateescape").strip()
        if proc.returncode != 0 or not top:
            raise UserError(f"not a git repository (or any parent up to /): {start}")
        return cls(Path(top))

    # -- plumbing ---------------------------------------------------------

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        proc = _git(list(args), self.root, input)
        if check and proc.returncode != 0:
            # Revisions a user typed are checked in `resolve`; a command failing here is git's fault.
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitFailed(
                f"git {args[0]} failed: {err[-1] if err else f'exit {proc.returncode}'}"
            )
        return proc.stdout

    def attempt(self, *args: str, input: bytes | None = None) -> tuple[int, bytes, str]:
        """(exit code, stdout, last line of stderr) of a git command whose failure is an answer
        (a push rejected, a notes merge with conflicts), not an error."""
        proc = _git(list(args), self.root, input)
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return proc.returncode, proc.stdout, err[-1] if err else ""

    def resolve(self, rev: str) -> str:
        """The commit sha a revision names; a clear error for one git doesn't know."""
        if rev.startswith("-"):
            raise UserError(f"unknown revision: {rev}")
        # `:/message` swallows any suffix into its pattern, so it is peeled with a second call.
        spec = rev if rev.startswith(":/") else f"{rev}^{{commit}}"
        proc = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", spec], self.root)
        sha = proc.stdout.decode().strip()
        if proc.returncode == 0 and rev.startswith(":/"):
            return self.resolve(sha)
        if proc.returncode != 0:
            raise UserError(f"unknown revision: {rev}")
        return sha

    def try_resolve(self, rev: str) -> str | None:
        try:
            return self.resolve(rev)
        except UserError:
            return None

    def try_ref(self, ref: str) -> str | None:
        """The object a full ref name points at, or None when there is no such ref."""
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", ref, check=False)
        return out.decode().strip() or None

    def merge_base(self, a: str, b: str) -> str:
        out = self.run("merge-base", a, b, check=False).decode().strip()
        if not out:
            raise UserError(f"no merge base between {a} and {b}")
        return out

    @property
    def object_format(self) -> str:
        """`sha1` or `sha256`: never assume the first (a SHA-256 repository has other ids)."""
        if self._object_format is None:
            out = self.run("rev-parse", "--show-object-format", check=False).decode().strip()
            self._object_format = out if out in ("sha1", "sha256") else "sha1"
        return self._object_format

    @property
    def empty_tree(self) -> str:
        return object_id(self.object_format, "tree", b"")

    def git_path(self, name: str) -> Path:
        out = self.run("rev-parse", "--git-path", name).decode().strip()
        return (self.root / out).resolve()

    def config(self, key: str) -> str | None:
        out = self.run("config", "--get", key, check=False).decode().strip()
        return out or None

    def config_origin(self, key: str) -> str | None:
        out = self.run("config", "--show-scope", "--get", key, check=False).decode().strip()
        return out.split("\t", 1)[0] if out else None

    # -- trees, the index and the working tree ------------------------------

    def ls_tree(self, sha: str, paths: list[str]) -> list[TreeEntry]:
        out = self.run("ls-tree", "-r", "-z", "--full-tree", sha, "--", *paths)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, _kind, blob = meta.decode().split(" ")
            entries.append(TreeEntry(path.decode("utf-8", "surrogateescape"), mode, blob))
        return entries

    def ls_index(self, paths: list[str]) -> list[TreeEntry]:
        out = self.run("ls-files", "-s", "-z", "--", *paths)
        entries: dict[str, TreeEntry] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, blob, stage = meta.decode().split(" ")
            name = path.decode("utf-8", "surrogateescape")
            if stage != "0":
                raise UserError("unmerged (resolve the conflict first)", path=name)
            entries[name] = TreeEntry(name, mode, blob)
        return list(entries.values())

    def ls_worktree(self, paths: list[str]) -> tuple[list[str], set[str]]:
        """Tracked and untracked (not ignored) files; the second set names the untracked."""
        tracked = self.run("ls-files", "-z", "--cached", "--", *paths).split(b"\0")
        others = self.run("ls-files", "-z", "--others", "--exclude-standard", "--", *paths).split(
            b"\0"
        )
        decode = lambda b: b.decode("utf-8", "surrogateescape")  # noqa: E731
        untracked = {decode(p) for p in others if p}
        names = sorted({decode(p) for p in tracked if p} | untracked)
        return names, untracked

    def blob_sizes(self, shas: list[str]) -> dict[str, int]:
        """{sha: size in bytes} of these objects, through one `git cat-file --batch-check`
        (a missing one is left out): how big a blob is before anything reads it."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        out = self.run("cat-file", "--batch-check", input=("\n".join(wanted) + "\n").encode())
        sizes = {}
        for line in out.decode().splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[2].isdigit():
                sizes[parts[0]] = int(parts[2])
        return sizes

    def cat_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Read many blobs through one `git cat-file --batch` process."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        out = self.run("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
        blobs: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            eol = out.index(b"\n", pos)
            header = out[pos:eol].decode().split(" ")
            pos = eol + 1
            if header[-1] == "missing":
                continue
            size = int(header[2])
            blobs[sha] = out[pos : pos + size]
            pos += size + 1
        return blobs

    def changed_paths(self, old: str, new: str | None, paths: list[str]) -> list[str]:
        """Paths that differ; new=None means the index (as `git diff --cached`)."""
        args = ["diff", "--name-only", "-z", "--no-renames"]
        args += ["--cached", old] if new is None else [old, new]
        out = self.run(*args, "--", *paths)
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def files_written(self, old: str, new: str, paths: list[str]) -> list[tuple[str, TreeEntry]]:
        """Each regular file a commit of old..new wrote under these paths, with that commit: what
        the history holds, a version a later commit took out again included."""
        args = ["log", "--raw", "-z", "--no-renames", "--no-abbrev", "--format=%H"]
        out = self.run(*args, f"{old}..{new}", "--", *paths)
        written: list[tuple[str, TreeEntry]] = []
        commit, tokens = "", iter(out.split(b"\0"))
        for token in tokens:
            text = token.strip(b"\n").decode("ascii", "replace")
            if text.startswith(":"):  # `:old-mode new-mode old-sha new-sha status`, then its path
                path = next(tokens).decode("utf-8", "surrogateescape")
                _old_mode, mode, _old_sha, sha, status = text[1:].split(" ")
                if status != "D" and mode in ("100644", "100755"):
                    written.append((commit, TreeEntry(path, mode, sha)))
            elif text:
                commit = text
        return written

    def is_clean(self, paths: list[str]) -> bool:
        """No change under these paths between HEAD and the working tree, untracked files included."""
        out = self.run("status", "--porcelain", "-z", "--untracked-files=normal", "--", *paths)
        return not out.strip(b"\0")

    def tracked_under(self, relative: str) -> list[str]:
        """Files git tracks at or under a path of the work tree; a path git will not look at
        (beyond a tracked symlink) raises."""
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--", relative],
            cwd=self.root,
            capture_output=True,
        )
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise UserError(f"{relative}: {err[-1] if err else 'git ls-files failed'}")
        return [p.decode("utf-8", "surrogateescape") for p in proc.stdout.split(b"\0") if p]

    # -- history ------------------------------------------------------------

    def commit_info(self, rev: str) -> CommitInfo:
        sha = self.resolve(rev)
        out = self.run("log", "-1", "--format=%H%x1f%P%x1f%an%x1f%at%x1f%s", sha).decode(
            "utf-8", "replace"
        )
        sha, parents, author, ts, subject = out.strip("\n").split("\x1f", 4)
        return CommitInfo(sha, tuple(parents.split()), author, int(ts), subject)

    def current_branch(self) -> str:
        out = self.run("rev-parse", "--abbrev-ref", "HEAD", check=False).decode().strip()
        return out or "HEAD"

    def user_name(self) -> str | None:
        """Who is at the keyboard, as git would write them into a commit (GIT_AUTHOR_NAME, then
        user.name); None when git knows no one."""
        out = self.run("var", "GIT_AUTHOR_IDENT", check=False).decode(errors="replace").strip()
        name = out.rsplit("<", 1)[0].strip() if "<" in out else ""
        return name or None


def _parse_raw_log(out: bytes) -> list[tuple[CommitInfo, list[tuple[str, str, str, str]]]]:
    """`git log --raw -z` output: each commit with its changes as (status, new mode, new sha, path)."""
    commits = []
    fields = out.split(b"\0")
    index = 0
    current: tuple[CommitInfo, list[tuple[str, str, str, str]]] | None = None
    while index < len(fields):
        field = fields[index]
        text = field.decode("utf-8", "replace").lstrip("\n")
        if text.startswith("\x1e"):
            sha, parents, author, ts, subject = text[1:].split("\x1f", 4)
            current = (CommitInfo(sha, tuple(parents.split()), author, int(ts), subject), [])
            commits.append(current)
            index += 1
        elif text.startswith(":") and current is not None:
            meta = text[1:].split(" ")
            status = meta[4]
            path = fields[index + 1].decode("utf-8", "surrogateescape")
            if status.startswith(("R", "C")):
                current[1].append(("D", "", "", path))
                path = fields[index + 2].decode("utf-8", "surrogateescape")
                index += 1
            current[1].append((status[0], meta[1], meta[3], path))
            index += 2
        else:
            index += 1
    return commits


def history_changes(repo: GitRepo, rev: str, paths: list[str], limit: int | None):
    """First-parent commits touching paths (oldest first) with their changed files, in one process."""
    args = [
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        "-z",
        "--format=%x1e%H%x1f%P%x1f%an%x1f%at%x1f%s",
    ]
    if limit:
        args.append(f"-n{limit}")
    out = repo.run(*args, rev, "--", *paths, check=False)
    return list(reversed(_parse_raw_log(out)))
