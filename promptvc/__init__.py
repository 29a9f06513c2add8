"""promptvc: prompts as versioned templates in git, judged by golden sets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Loaded on first use, so `import promptvc` (every CLI start) stays as light as it was.
    if name in ("trace", "traced"):
        from promptvc import tracing

        return getattr(tracing, name)
    raise AttributeError(f"module 'promptvc' has no attribute {name!r}")
