"""What a name on the command line refers to. Users type prompt names (`support/answer`), set
ids, globs, directories, and — out of git habit — paths (`prompts/support/answer.jinja`,
`./evals/support-answer.yaml`). One rule for all commands: a path to a prompt file means the
prompt, a name matches exactly, as a glob or as a directory prefix, and a name that matches
nothing is an error with the closest names, never a silent empty answer."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable

from promptvc.errors import UserError, did_you_mean
from promptvc.prompts.file import prompt_name


def as_name(arg: str, prompts_dir: str) -> str:
    """A path to a prompt file becomes the prompt's name; anything else is kept as typed."""
    path = posixpath.normpath(arg.replace("\\", "/")) if arg else arg
    return prompt_name(path, prompts_dir) or (path if path.endswith((".yaml", ".yml")) else arg)


def matches(candidate: str, name: str) -> bool:
    return (
        candidate == name
        or fnmatch.fnmatchcase(candidate, name)
        or candidate.startswith(name.rstrip("/") + "/")
    )


def selected(candidate: str, names: Iterable[str]) -> bool:
    """No names select everything."""
    names = tuple(names)
    return not names or any(matches(candidate, n) for n in names)


def require_matches(
    names: Iterable[str], candidates: Iterable[str], what: str = "prompt or golden set"
) -> None:
    known = sorted(set(candidates))
    for name in names:
        if not any(matches(c, name) for c in known):
            raise UserError(f"no {what} matches '{name}'{did_you_mean(name, known)}")
