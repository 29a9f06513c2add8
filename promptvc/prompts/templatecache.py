"""Compiled templates and what they refer to, cached by blob sha, in memory and on disk.

Compiling a Jinja template costs about 60 times rendering it, and a blob never changes,
so a template is compiled once per machine: `.promptvc/cache/templates/` keeps the marshalled
code and the analysis (includes, variables) of every blob met.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

FORMAT = f"promptvc-templates/1 jinja2 {jinja2.__version__}"


@dataclass(frozen=True)
class Analysis:
    references: frozenset[str]   # template paths it includes or imports
    dynamic: bool                # an include whose name is computed at render time
    variables: frozenset[str]    # variables it reads from the context


class TemplateCache:
    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self._code: dict[tuple[str, str], object] = {}
        self._analysis: dict[tuple[str, str], Analysis] = {}

    def _file(self, sha: str, path: str) -> Path | None:
        if self.directory is None:
            return None
        where = hashlib.sha1(path.encode()).hexdigest()[:8]  # the code names its file in tracebacks
        return self.directory / sha[:2] / f"{sha[2:]}-{where}"

    def _read(self, sha: str, path: str) -> bool:
        target = self._file(sha, path)
        if target is None or not target.exists():
            return False
        try:
            fmt, stored_path, code, refs, dynamic, variables = marshal.loads(target.read_bytes())
        except (ValueError, EOFError, TypeError):
            return False
        if fmt != FORMAT or stored_path != path:
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
        data = marshal.dumps((FORMAT, path, code, tuple(sorted(analysis.references)), analysis.dynamic,
                              tuple(sorted(analysis.variables))))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                tmp.write(data)
            os.replace(tmp.name, target)  # atomic: a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only checkout still works, only slower
