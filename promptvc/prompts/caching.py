"""Prompt caching: where a prompt's stable prefix ends, as Messages-API `cache_control` breakpoints.

A prompt marks its breakpoints in front matter (`cache: [system, examples]`, `cache_ttl: 1h`) or
with template lines exactly `cache:`; the renderer finds those lines (as it finds role markers)
and this module places the front matter's and checks the API's limit. How long a prefix must be
before a model caches it at all is a fact of the model, kept beside its price in
`promptvc.evaluation.prices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptvc.errors import UserError

SYSTEM = -1  # a breakpoint's message index when it ends (part of) the system text
MAX_BREAKPOINTS = 4  # the Messages API refuses a request with more
PLACES = ("system", "examples")
TTLS = ("5m", "1h")
Ttl = Literal["5m", "1h"]
DEFAULT_TTL: Ttl = "5m"


@dataclass(frozen=True, order=True)
class Breakpoint:
    """The end of a cached prefix: `offset` characters into message `message` (SYSTEM: the
    system text). The block that ends there carries `cache_control`."""

    message: int
    offset: int
    ttl: str = DEFAULT_TTL

    def cache_control(self) -> dict:
        control = {"type": "ephemeral"}
        return control if self.ttl == DEFAULT_TTL else {**control, "ttl": self.ttl}


@dataclass(frozen=True)
class CacheSpec:
    """Front matter `cache:` and `cache_ttl:`."""

    places: tuple[str, ...] = ()
    ttl: str = DEFAULT_TTL


def cache_spec(meta: dict, where: str, line_of) -> CacheSpec:
    """The front matter's cache settings, or a UserError at the key that is wrong."""
    places = meta.get("cache", [])
    if not isinstance(places, list) or any(p not in PLACES for p in places):
        raise UserError(
            f"'cache' must be a list of {' and '.join(PLACES)}, not {meta.get('cache')!r}",
            path=where,
            line=line_of("cache"),
        )
    ttl = meta.get("cache_ttl", DEFAULT_TTL)
    if ttl not in TTLS:
        raise UserError(
            f"'cache_ttl' must be one of {', '.join(TTLS)}, not {ttl!r}",
            path=where,
            line=line_of("cache_ttl"),
        )
    return CacheSpec(tuple(dict.fromkeys(places)), ttl)


def place_breakpoints(
    spec: CacheSpec, system: str, messages: list, marked: list[Breakpoint]
) -> tuple[Breakpoint, ...]:
    """Every breakpoint of a render: the template's `cache:` lines and the front matter's places.

    `examples` is the end of the last assistant turn that a user turn follows (the last few-shot
    answer); a prompt without one has nothing to cache there."""
    found = {(b.message, b.offset) for b in marked if b.offset > 0}
    if "system" in spec.places and system:
        found.add((SYSTEM, len(system)))
    if "examples" in spec.places:
        shots = [
            i
            for i, m in enumerate(messages)
            if m.role == "assistant" and any(n.role == "user" for n in messages[i + 1 :])
        ]
        if shots:
            found.add((shots[-1], len(messages[shots[-1]].content)))
    return tuple(Breakpoint(message, offset, spec.ttl) for message, offset in sorted(found))


def too_many(count: int) -> str | None:
    if count <= MAX_BREAKPOINTS:
        return None
    return f"{count} cache breakpoints; the Messages API takes at most {MAX_BREAKPOINTS}"


def blocks(text: str, offsets: list[int], ttl_of: dict[int, Breakpoint]) -> list[dict]:
    """A text cut at the breakpoints' offsets into content blocks, each cut block marked."""
    cuts = sorted({o for o in offsets if 0 < o <= len(text)})
    out, start = [], 0
    for cut in [*cuts, len(text)]:
        piece = text[start:cut]
        if piece.strip():
            block: dict = {"type": "text", "text": piece}
            if cut in ttl_of:
                block["cache_control"] = ttl_of[cut].cache_control()
            out.append(block)
        elif cut in ttl_of and out:  # nothing new since the last cut: that block ends here
            out[-1]["cache_control"] = ttl_of[cut].cache_control()
        start = cut
    return out


def prefix_text(system: str, messages, breakpoint: Breakpoint) -> str:
    """Everything the API caches up to a breakpoint (system text first, then the turns)."""
    if breakpoint.message == SYSTEM:
        return system[: breakpoint.offset]
    turns = [content for _role, content in messages[: breakpoint.message]]
    turns.append(messages[breakpoint.message][1][: breakpoint.offset])
    return "\n".join([system, *turns])


BREAK_LINE = "── cache breakpoint ({ttl}) ──"


def with_break_lines(text: str, offsets: dict[int, str]) -> str:
    """A block's text with a line shown where each breakpoint falls (render and echo)."""
    for offset in sorted(offsets, reverse=True):
        head, tail = text[:offset].rstrip("\n"), text[offset:].lstrip("\n")
        line = BREAK_LINE.format(ttl=offsets[offset])
        text = f"{head}\n{line}" + (f"\n{tail}" if tail else "")
    return text


def plain_text(
    system: str, messages: tuple[tuple[str, str], ...], breakpoints: tuple[Breakpoint, ...] = ()
) -> str:
    """The system text and each message under its role marker, a line where each breakpoint is."""

    def shown(index: int, text: str) -> str:
        offsets = {b.offset: b.ttl for b in breakpoints if b.message == index}
        return with_break_lines(text, offsets) if offsets else text

    parts = [f"system:\n{shown(SYSTEM, system)}"] if system else []
    parts += [f"{role}:\n{shown(i, content)}" for i, (role, content) in enumerate(messages)]
    return "\n".join(parts) + "\n"
