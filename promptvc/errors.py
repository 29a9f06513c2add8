"""The errors a user can cause or meet, each with its exit code."""

from __future__ import annotations

from collections.abc import Iterable


class PromptvcError(Exception):
    """An expected failure: shown as one line, never as a traceback."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class UserError(PromptvcError):
    """Bad input: a file, a revision, an option. Exit 2."""

    exit_code = 2


class PromptError(UserError):
    """A prompt that cannot be rendered, or a bundle that cannot be trusted: what the runtime API
    (`promptvc.load`, `Prompts.render`) raises, with the line the CLI prints for the same cause."""


class CannotEvaluate(PromptvcError):
    """The model could not be reached, or no key where one is needed. Exit 3."""

    exit_code = 3


class Interrupted(PromptvcError):
    """Ctrl-C or SIGTERM; what finished was kept. Exit 130."""

    exit_code = 130


class GitFailed(PromptvcError):
    """git itself failed (not installed, a corrupt repository), as opposed to a bad revision. Exit 3."""

    exit_code = 3


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest known names, or nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)" if close else ""
