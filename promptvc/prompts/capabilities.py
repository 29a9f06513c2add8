"""What a model accepts: the newest Claude models (Sonnet 5 and later, Opus 4.7 and later)
reject sampling parameters, so promptvc sends none to them, and `render` and `diff` say so.

A table by model family and version rather than a list of names, so that a later release of a
family (claude-sonnet-5-1, a dated id) is covered without a change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
# The first version of each family that takes no sampling parameter.
NO_SAMPLING_FROM: dict[str, tuple[int, int]] = {"sonnet": (5, 0), "opus": (4, 7)}
# claude-<family>-<major>[-<minor>][-<date>]: a minor version has one or two digits, a date eight.
_MODEL = re.compile(r"claude-(?P<family>[a-z]+)-(?P<major>\d+)(?:-(?P<minor>\d{1,2})(?!\d))?")


@dataclass(frozen=True)
class Dropped:
    """A parameter the config sets that the model would reject, so it is never sent."""

    key: str
    value: object
    model: str

    def __str__(self) -> str:
        return (
            f"{self.key}: {self.value} will be dropped: {self.model} takes no sampling parameters"
        )


def claude_version(model: str | None) -> tuple[str, tuple[int, int]] | None:
    """(family, (major, minor)) of a Claude model id (`claude-opus-4-7`, a dated or cloud id);
    None for another model, and for the 3.x ids that put the version first."""
    match = _MODEL.search(model or "")
    if not match:
        return None
    return match["family"], (int(match["major"]), int(match["minor"] or 0))


def takes_sampling(model: str | None) -> bool:
    """False for a model that rejects temperature, top_p and top_k."""
    found = claude_version(model)
    if found is None or found[0] not in NO_SAMPLING_FROM:
        return True
    family, version = found
    return version < NO_SAMPLING_FROM[family]


def sendable(model: str | None, params: dict) -> dict:
    """The parameters as they are sent to this model: sampling ones left out where it rejects them."""
    if takes_sampling(model):
        return params
    return {k: v for k, v in params.items() if k not in SAMPLING_PARAMS}


def dropped(model: str | None, params: dict) -> list[Dropped]:
    """The parameters `sendable` leaves out, for a warning."""
    if takes_sampling(model):
        return []
    return [Dropped(k, params[k], model or "") for k in SAMPLING_PARAMS if k in params]
