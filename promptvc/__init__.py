"""promptvc: prompts as versioned templates in git, judged by golden sets."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time loaded on first use (below)
    from promptvc.tracing import trace as trace
    from promptvc.tracing import traced as traced


def __getattr__(name: str):
    # Loaded on first use, so `import promptvc` (every CLI start) stays as light as it was.
    if name in ("trace", "traced"):
        from promptvc import tracing

        return getattr(tracing, name)
    raise AttributeError(f"module 'promptvc' has no attribute {name!r}")
