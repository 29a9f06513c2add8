"""Deploy bundles: one JSON file with everything needed to render some prompts at one commit.

A bundle holds the files under prompts/ that the named prompts reach (templates, partials,
example sets, tiers, schema files) as git has them, with their blob shas, the commit, the
promptvc version that wrote it and a sha256 over all of it. Loaded, it becomes a snapshot like
any other, so it renders through the same renderer as a revision, without git.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from promptvc import __version__
from promptvc.caches import Caches
from promptvc.errors import PromptError, UserError
from promptvc.git.snapshot import Commit, FileRef, Snapshot, blob_sha

FORMAT = "promptvc-bundle"
FORMAT_VERSION = 1  # raised only when an older promptvc could not read what a newer one writes
TEMPLATE_SUFFIX = ".jinja"


class BundleError(PromptError):
    """A bundle that cannot be trusted: truncated, tampered with, or from a newer promptvc."""


@dataclass(frozen=True)
class Bundle:
    commit: str
    prompts_dir: str
    object_format: str
    prompts: tuple[str, ...]  # the names it was made for
    files: dict[str, tuple[str, str]]  # path -> (blob sha, text as git stores it)
    promptvc: str
    hash: str

    def snapshot(self) -> Snapshot:
        """The bundle as a snapshot of its commit: blobs in memory, nothing to fetch."""
        caches = Caches()
        files = {}
        for path, (sha, text) in self.files.items():
            files[path] = FileRef(path, sha)
            caches.blobs[sha] = text.encode("utf-8")
        return Snapshot(None, Commit(self.commit), files, caches)

    def same_content(self, other: Bundle) -> list[str]:
        """The paths (and the prompt list) that differ from another bundle; [] when none."""
        ours = {p: sha for p, (sha, _t) in self.files.items()}
        theirs = {p: sha for p, (sha, _t) in other.files.items()}
        changed = sorted(p for p in ours.keys() | theirs.keys() if ours.get(p) != theirs.get(p))
        if self.prompts != other.prompts:
            changed.append("(the prompts it holds)")
        return changed


# -- making one -----------------------------------------------------------------------------


def make_bundle(renderer, names: list[str] | None = None) -> Bundle:
    """A bundle of the named prompts (default: every prompt) of a renderer's commit snapshot.

    Each prompt is checked as far as rendering can be without variables (front matter, tier,
    template syntax, includes, example set), so a bundle never ships a prompt that cannot render.
    """
    from promptvc.prompts.file import prompt_names

    snapshot = renderer.snapshot
    if snapshot.commit is None:
        raise UserError("a bundle is made from a commit (give --rev)")
    prompts_dir = renderer.prompts_dir
    chosen = sorted(set(names)) if names else prompt_names(snapshot, prompts_dir)
    paths: set[str] = set()
    for name in chosen:
        paths |= _files_of(renderer, name)
    snapshot.prefetch(sorted(paths))
    files = {path: (snapshot.files[path].sha, _text(snapshot, path)) for path in sorted(paths)}
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "promptvc": __version__,
        "commit": snapshot.commit,
        "prompts_dir": prompts_dir,
        "object_format": snapshot.repo.object_format if snapshot.repo else "sha1",
        "prompts": chosen,
        "files": {path: {"sha": sha, "text": text} for path, (sha, text) in files.items()},
    }
    return _from_body(body, content_hash(body))


def _files_of(renderer, name: str) -> set[str]:
    from promptvc.prompts.tiers import tiers_path

    snapshot = renderer.snapshot
    prompt = renderer.prompt(name)
    renderer.config(name)  # its tier exists, its schema reads
    renderer.route(name)  # so does every tier of its route
    renderer.examples(name)
    partials, dynamic = renderer.partials_of(name)
    renderer.variables_used(name)  # every template it reaches parses
    paths = {prompt.path, *(p for p in partials if p in snapshot)}
    if dynamic:  # an include whose name is computed: it may reach any template
        paths |= set(snapshot.under(renderer.prompts_dir, (TEMPLATE_SUFFIX,)))
    if prompt.examples_path:
        paths.add(renderer.loader.path_of(prompt.examples_path))
    if isinstance(prompt.output_schema, str) and prompt.output_schema.endswith(".json"):
        paths.add(renderer.loader.path_of(prompt.output_schema))
    if tiers_path(renderer.prompts_dir) in snapshot:
        paths.add(tiers_path(renderer.prompts_dir))
    for path in paths:
        if snapshot.files[path].is_symlink:
            raise UserError("is a symlink; promptvc refuses to follow links", path=path)
    return paths


def _text(snapshot: Snapshot, path: str) -> str:
    """The file exactly as git stores it (BOM and CRLF kept, so its blob sha checks out)."""
    data = snapshot.read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"is not UTF-8 (byte {exc.start})", path=path) from None


def content_hash(body: dict) -> str:
    """sha256 over the bundle's canonical JSON, its own hash left out."""
    canonical = json.dumps(
        {k: v for k, v in body.items() if k != "hash"},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dumps(bundle: Bundle) -> str:
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "promptvc": bundle.promptvc,
        "commit": bundle.commit,
        "prompts_dir": bundle.prompts_dir,
        "object_format": bundle.object_format,
        "prompts": list(bundle.prompts),
        "files": {p: {"sha": sha, "text": text} for p, (sha, text) in bundle.files.items()},
        "hash": bundle.hash,
    }
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# -- reading one ----------------------------------------------------------------------------


def read_bundle(path: str | Path) -> Bundle:
    """A bundle file, verified: its format, its version, its hash and every file's blob sha."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError("no such bundle file", path=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read the bundle: {exc}", path=where) from None
    return parse_bundle(text, where)


def parse_bundle(text: str, where: str) -> Bundle:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"not a complete bundle (truncated or not JSON: {exc.msg})", path=where, line=exc.lineno
        ) from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise BundleError('not a promptvc bundle (no "format": "promptvc-bundle")', path=where)
    version = body.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BundleError(
            f"written by promptvc {body.get('promptvc', '?')} in bundle format {version}; this "
            f"promptvc {__version__} reads format {FORMAT_VERSION} (upgrade promptvc)",
            path=where,
        )
    if body.get("hash") != content_hash(body):
        raise BundleError(
            "content hash does not match: the bundle was changed after it was made", path=where
        )
    try:
        bundle = _from_body(body, body["hash"])
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BundleError(f"malformed bundle ({type(exc).__name__}: {exc})", path=where) from None
    if bundle.object_format not in ("sha1", "sha256"):
        raise BundleError(f"unknown object format '{bundle.object_format}'", path=where)
    for file, (sha, file_text) in bundle.files.items():
        if blob_sha(file_text.encode("utf-8"), bundle.object_format) != sha:
            raise BundleError(f"{file}: content does not match its blob sha", path=where)
    return bundle


def _from_body(body: dict, digest: str) -> Bundle:
    files = body["files"]
    return Bundle(
        commit=str(body["commit"]),
        prompts_dir=str(body["prompts_dir"]),
        object_format=str(body["object_format"]),
        prompts=tuple(str(n) for n in body["prompts"]),
        files={str(p): (str(f["sha"]), str(f["text"])) for p, f in files.items()},
        promptvc=str(body["promptvc"]),
        hash=digest,
    )
