"""A golden file's header (`prompt:` and `id:`) read without a YAML parser, or not at all.

The graph asks every golden file which prompt it names; parsing 1,000 files to learn that 5
are affected would cost more than the rest of a diff. So the header is read from the file's
leading `key: scalar` lines, and only when nothing else in the file could make the YAML parser
read it differently: a quoted value with an escape (`"support\\/answer"`), a value the parser
would not read as a string (`yes`, `1.0`, `null`), a plain value continued on the next line,
flow style, anchors, tags, merges, a key written twice or again further down. In every such
case the answer is None and the caller parses the file.
"""

from __future__ import annotations

import re

import yaml

# Plain, single-quoted (no '' escape) or double-quoted (no backslash escape) on one line, with
# none of the characters YAML rejects or reads as a line break.
_SCALAR = (
    r"(?:(?P<plain>[A-Za-z0-9_][A-Za-z0-9_./-]*)"
    r"|'(?P<single>[^'\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]*)'"
    r"|\"(?P<double>[^\"\\\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]*)\")"
)
_SIMPLE_ENTRY = re.compile(rf"(?P<key>[A-Za-z_][A-Za-z0-9_-]*):[ ]+{_SCALAR}(?:[ ]+#.*)?[ ]*")
# A line at the margin that could define `prompt` or `id` in a way the simple form does not
# read: the keys themselves, quoted or complex keys, anchors, tags, aliases, merges, directives,
# flow collections, another document.
_RISKY_MARGIN = re.compile(r"(?:prompt|id)\b|[\"'?{\[&!*%@`|>:,\t]|<<|---|\.\.\.")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
HEADER_KEYS = ("prompt", "id")


def read_header(text: str) -> tuple[str | None, str] | None:
    """(id or None when absent, prompt), exactly as the YAML parser would read them, or None
    when only the parser can tell."""
    found: dict[str, str] = {}
    leading, started, after_header = True, False, False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] == " ":
            if after_header:
                return None  # an indented line after `prompt: a` may continue its value
            leading = False
            continue
        after_header = False
        if leading and not started and line.rstrip(" ") == "---":
            started = True
            continue
        started = True
        match = _SIMPLE_ENTRY.fullmatch(line) if leading else None
        if match is None:
            leading = False  # past the leading run of simple lines: only look for trouble
            if _RISKY_MARGIN.match(line):
                return None
            continue
        key = match["key"]
        if key in HEADER_KEYS:
            value = _value(match)
            if key in found or value is None:
                return None
            found[key] = value
            after_header = True
    if "prompt" not in found:
        return None
    return found.get("id"), found["prompt"]


def _value(match: re.Match) -> str | None:
    if match["plain"] is None:
        return match["single"] if match["single"] is not None else match["double"]
    plain = match["plain"]
    # `yes`, `0.9`, `null`, `2001-01-01` are not strings to the parser.
    return plain if _RESOLVER.resolve(yaml.ScalarNode, plain, (True, False)) == _STR_TAG else None
