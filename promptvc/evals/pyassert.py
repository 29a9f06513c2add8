"""`python` assertions: a `module:function` from the user's repository, read from the snapshot
being evaluated (so an old commit is judged by its own checks, and a staged one by staged code).

Two questions are answered here and nowhere else, with one rule for how a module name maps to
a file (`a.b` is `a/b.py` or `a/b/__init__.py`, from the repository's root):
- which repository files a golden set's python assertions depend on: their modules and, read
  with `ast` (never run), the repository modules those import, transitively;
- how those modules are loaded: from the snapshot's blobs, their imports of repository modules
  served from the same snapshot, without touching `sys.path` or `sys.modules`.
"""

from __future__ import annotations

import ast
import builtins
import re
import types
from collections.abc import Callable, Iterable

from promptvc.errors import UserError
from promptvc.git.snapshot import Snapshot

MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
MAX_FILES = 256  # a bound on what one set's assertions are followed through
MAX_DEPTH = 16


def module_files(name: str) -> tuple[str, str]:
    """The two files a module name can be, module first (as Python's path finder tries them)."""
    base = name.replace(".", "/")
    return f"{base}.py", f"{base}/__init__.py"


def _resolve(snapshot: Snapshot, names: Iterable[str]) -> dict[str, str]:
    """{module name: its file} for the names the snapshot has a file for (one git call)."""
    names = list(dict.fromkeys(names))
    found = snapshot.lookup_many([path for name in names for path in module_files(name)])
    resolved = {}
    for name in names:
        for path in module_files(name):
            if path in found:
                resolved[name] = path
                break
    return resolved


def _absolute(module: str, level: int, package: str) -> str | None:
    """The absolute name of `from {'.' * level}{module} import …` in `package`; None beyond the top."""
    if not level:
        return module
    parts = package.split(".") if package else []
    if level > len(parts):
        return None
    base = parts[: len(parts) - level + 1]
    return ".".join(base + ([module] if module else []))


def _package_of(name: str, path: str) -> str:
    return name if path.endswith("/__init__.py") else name.rpartition(".")[0]


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports(snapshot: Snapshot, name: str, path: str) -> set[str]:
    """Every module a file may import, read with `ast` (imports inside functions too)."""
    try:
        tree = ast.parse(snapshot.read_bytes(path), path)
    except (SyntaxError, ValueError, UserError):
        return set()  # it fails when run; the file itself is still a dependency
    package = _package_of(name, path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if base is None:
                continue
            if base:
                names.add(base)
            names.update(
                f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*"
            )
    return {parent for n in names for parent in _with_parents(n)}


def python_dependencies(snapshot: Snapshot, modules: Iterable[str]) -> dict[str, str | None]:
    """{path: blob sha} of every repository file that python assertions naming `modules` load:
    each module and its packages' `__init__.py`, and the repository modules they import,
    transitively (bounded). A named module the snapshot lacks maps its file to None, so that
    adding it later is a change too."""
    named = list(dict.fromkeys(modules))
    files: dict[str, str | None] = {}
    seen: set[str] = set()
    frontier = [parent for name in named for parent in _with_parents(name)]
    for _depth in range(MAX_DEPTH):
        frontier = [n for n in dict.fromkeys(frontier) if n not in seen]
        if not frontier or len(files) >= MAX_FILES:
            break
        seen.update(frontier)
        resolved = _resolve(snapshot, frontier)
        snapshot.prefetch(list(resolved.values()))
        next_names: list[str] = []
        for name, path in resolved.items():
            files[path] = snapshot.lookup(path).sha  # type: ignore[union-attr]
            next_names.extend(_imports(snapshot, name, path))
        frontier = next_names
    for name in named:
        if not any(path in files for path in module_files(name)):
            files[module_files(name)[0]] = None
    return dict(sorted(files.items()))


class SnapshotModules:
    """The assertion modules of one snapshot, loaded from its blobs.

    Each module gets its own `__builtins__` whose `__import__` serves repository modules from
    the snapshot (as if the repository root were first on the path, as pytest puts it) and
    anything else from the installed packages; nothing is added to `sys.modules`, so neither
    promptvc nor another snapshot ever sees these modules.
    """

    def __init__(self, snapshot: Snapshot, root: str):
        self.snapshot = snapshot
        self.root = root
        self.modules: dict[str, types.ModuleType] = {}
        self.builtins = dict(vars(builtins), __import__=self._import)

    def module(self, name: str) -> types.ModuleType | None:
        """The module `name` (its packages loaded first); None when the snapshot has no such file."""
        if name in self.modules:
            return self.modules[name]
        path = _resolve(self.snapshot, [name]).get(name)
        if path is None:
            return None
        parent_name, _, leaf = name.rpartition(".")
        parent = (self.module(parent_name) or self._namespace(parent_name)) if parent_name else None
        module = types.ModuleType(name)
        module.__file__ = f"{self.root}/{path}"
        module.__package__ = _package_of(name, path)
        if path.endswith("/__init__.py"):
            module.__path__ = []
        module.__dict__["__builtins__"] = self.builtins
        source = self.snapshot.read_bytes(path)
        self.modules[name] = module  # before running it, so circular imports behave as in Python
        try:
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        except BaseException:
            del self.modules[name]
            raise
        if parent is not None:
            setattr(parent, leaf, module)
        return module

    def _namespace(self, name: str) -> types.ModuleType:
        """A folder without `__init__.py` that holds modules: a namespace package."""
        if name not in self.modules:
            parent_name, _, leaf = name.rpartition(".")
            parent = (
                (self.module(parent_name) or self._namespace(parent_name)) if parent_name else None
            )
            module = types.ModuleType(name)
            module.__path__ = []
            module.__package__ = name
            self.modules[name] = module
            if parent is not None:
                setattr(parent, leaf, module)
        return self.modules[name]

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        package = (globals or {}).get("__package__") or ""
        absolute = _absolute(name, level, package)
        if absolute is None:
            raise ImportError("attempted relative import beyond top-level package")
        module = self.module(absolute) if absolute else None
        wanted = [item for item in fromlist or () if item != "*"]
        if (
            module is None
            and wanted
            and _resolve(self.snapshot, [f"{absolute}.{w}" for w in wanted])
        ):
            module = self._namespace(absolute)
        if module is None:
            if level:
                raise ModuleNotFoundError(
                    f"No module named '{absolute}' in {self.snapshot.label}", name=absolute
                )
            return builtins.__import__(name, globals, locals, fromlist, 0)
        for item in wanted:
            if not hasattr(module, item) and hasattr(module, "__path__"):
                self.module(f"{absolute}.{item}")
        if fromlist or level:
            return module
        return self.modules[absolute.partition(".")[0]]


def split_spec(spec: str) -> tuple[str, str]:
    module, _, function = spec.partition(":")
    return module, function


def valid_spec(spec: object) -> bool:
    """`module:function`, the module named with dots from the repository's root (never a path)."""
    if not isinstance(spec, str) or ":" not in spec:
        return False
    module, function = split_spec(spec)
    return bool(MODULE_NAME.fullmatch(module)) and function.isidentifier()


def load_function(snapshot: Snapshot, spec: str, root: str) -> Callable:
    module_name, function_name = split_spec(spec)
    loaded = snapshot.python_modules
    if not isinstance(loaded, SnapshotModules):
        loaded = snapshot.python_modules = SnapshotModules(snapshot, root)
    module = loaded.module(module_name)
    if module is None:
        raise UserError(
            f"python assertion '{spec}': no {module_files(module_name)[0]} in {snapshot.label}"
        )
    function = getattr(module, function_name, None)
    if not callable(function):
        path = str(module.__file__).removeprefix(f"{root}/")
        raise UserError(f"python assertion '{spec}': {path} has no function '{function_name}'")
    return function
