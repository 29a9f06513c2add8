"""Compiled templates and what they refer to, cached by blob sha, in memory and on disk.

Compiling a Jinja template costs about 60 times rendering it, and a blob never changes,
so a template is compiled once per machine and its marshalled code kept in the user's
cache directory (`$XDG_CACHE_HOME/promptvc`, else `~/.cache/promptvc`), one folder per
repository. Loading marshalled code runs it, and a blob sha is public, so the cache never
lives in the work tree (a repository could commit a crafted entry there) and every entry
carries an HMAC under a random per-machine key: an entry that does not verify is ignored
and compiled again.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

# /3: signed entries (trust) with code from the bounded sandbox's code generator (bombs)
FORMAT = f"promptvc-templates/3 jinja2 {jinja2.__version__}"
KEY_BYTES = 32
_MAC_BYTES = hashlib.sha256().digest_size


@dataclass(frozen=True)
class Analysis:
    references: frozenset[str]  # template paths it includes or imports
    dynamic: bool  # an include whose name is computed at render time
    variables: frozenset[str]  # variables it reads from the context


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "promptvc"


def template_cache_dir(repo_root: Path) -> Path:
    """The folder for one repository's compiled templates, outside its work tree."""
    repo_id = hashlib.sha256(str(Path(repo_root).resolve()).encode()).hexdigest()[:16]
    return user_cache_dir() / "templates" / repo_id


def machine_key(directory: Path) -> bytes | None:
    """The per-machine HMAC key (`key` in `directory`, mode 0600), made on first use.

    None when it cannot be trusted (a link, another owner, readable by others) or written:
    the cache then stays in memory.
    """
    path = directory / "key"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists() and not path.is_symlink():
            fd, tmp = tempfile.mkstemp(dir=directory)  # created 0600
            try:
                os.write(fd, os.urandom(KEY_BYTES))
                os.close(fd)
                os.link(tmp, path)  # atomic, and never replaces a key another process made
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        info = os.lstat(path)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_mode & 0o077
            or info.st_uid != os.getuid()
            or info.st_size != KEY_BYTES
        ):
            return None
        return path.read_bytes()
    except OSError:
        return None


class TemplateCache:
    def __init__(self, directory: Path | None = None, key: bytes | None = None):
        self.directory = directory if key is not None else None
        self._key = key
        self._code: dict[tuple[str, str], object] = {}
        self._analysis: dict[tuple[str, str], Analysis] = {}

    @classmethod
    def on_disk(cls, directory: Path) -> TemplateCache:
        return cls(directory, machine_key(user_cache_dir()))

    def _file(self, sha: str, path: str) -> Path | None:
        if self.directory is None:
            return None
        where = hashlib.sha1(path.encode()).hexdigest()[:8]  # the code names its file in tracebacks
        return self.directory / sha[:2] / f"{sha[2:]}-{where}"

    def _mac(self, data: bytes) -> bytes:
        assert self._key is not None
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _read(self, sha: str, path: str) -> bool:
        target = self._file(sha, path)
        if target is None:
            return False
        try:
            blob = target.read_bytes()
        except OSError:
            return False
        mac, data = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(data)):
            return False  # not written by this machine's promptvc: never unmarshalled
        try:
            fmt, stored_sha, stored_path, code, refs, dynamic, variables = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return False
        if fmt != FORMAT or stored_sha != sha or stored_path != path:
            return False
        self._code[(sha, path)] = code
        self._analysis[(sha, path)] = Analysis(frozenset(refs), dynamic, frozenset(variables))
        return True

    def get(self, sha: str, path: str) -> tuple[object, Analysis] | None:
        key = (sha, path)
        if key in self._code or self._read(sha, path):
            return self._code[key], self._analysis[key]
        return None

    def put(self, sha: str, path: str, code, analysis: Analysis) -> None:
        self._code[(sha, path)] = code
        self._analysis[(sha, path)] = analysis
        target = self._file(sha, path)
        if target is None:
            return
        data = marshal.dumps(
            (
                FORMAT,
                sha,
                path,
                code,
                tuple(sorted(analysis.references)),
                analysis.dynamic,
                tuple(sorted(analysis.variables)),
            )
        )
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                tmp.write(self._mac(data) + data)
            os.replace(tmp.name, target)  # atomic: a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only cache still works, only slower
