"""promptvc: prompts as versioned templates in git, judged by golden sets.

The runtime API, for applications: `load`, `Prompts`, `PromptRequest`, `Provenance`,
`PromptInfo`, `PromptError` (see promptvc.runtime), and `trace`, `traced` (see
promptvc.tracing). Imported on first use, so `import promptvc` (and the CLI, which imports this
package) pays for none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "load": "promptvc.runtime",
    "Prompts": "promptvc.runtime",
    "PromptRequest": "promptvc.runtime",
    "Provenance": "promptvc.runtime",
    "PromptInfo": "promptvc.runtime",
    "PromptError": "promptvc.errors",
    "trace": "promptvc.tracing",
    "traced": "promptvc.tracing",
}

__all__ = [
    "PromptError",
    "PromptInfo",
    "PromptRequest",
    "Prompts",
    "Provenance",
    "__version__",
    "load",
    "trace",
    "traced",
]

if TYPE_CHECKING:
    from promptvc.errors import PromptError
    from promptvc.runtime import PromptInfo, PromptRequest, Prompts, Provenance, load
    from promptvc.tracing import trace, traced


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptvc' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
