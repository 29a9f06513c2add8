"""promptvc: prompts as versioned templates in git, judged by golden sets."""

__version__ = "0.1.0"
