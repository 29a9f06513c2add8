"""`python` assertions: a `module:function` from the user's repository, loaded from the snapshot
being evaluated (so an old commit is judged by its own checks)."""

from __future__ import annotations

import sys
import types
from typing import Callable

from promptvc.errors import UserError
from promptvc.evaluation.keys import python_module_path
from promptvc.git.snapshot import Snapshot

def load_function(snapshot: Snapshot, spec: str, root: str) -> Callable:
    module_name, _, function_name = spec.partition(":")
    path = python_module_path(module_name)
    ref = snapshot.lookup(path)
    if ref is None:
        raise UserError(f"python assertion '{spec}': no {path} in {snapshot.label}")
    module = snapshot.caches.modules.get(ref.sha)
    if module is None:
        source = snapshot.read_text(path)
        module = types.ModuleType(module_name)
        module.__file__ = str(f"{root}/{path}")
        saved = list(sys.path)
        sys.path.insert(0, root)  # the module's own imports of the user's code, while it loads
        try:
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        finally:
            sys.path[:] = saved
        snapshot.caches.modules[ref.sha] = module
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UserError(f"python assertion '{spec}': {path} has no function '{function_name}'")
    return function
