"""Secrets in the files a commit is about to add: API tokens of the providers a prompt engineer
holds, private key blocks, and high-entropy values assigned to names like `api_key`.

Precision first: a scan that cries wolf gets `--no-verify`'d. Each token kind is matched by the
shape its issuer documents; placeholders (`sk-ant-xxxx…`, `${ANTHROPIC_API_KEY}`, `<your key>`)
do not match or are dropped; a line carrying `promptvc: allow-secret` is not reported. A kind's
pattern runs only over a file holding its literal prefix, so a hook run over 50 files stays
within a few milliseconds.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

ALLOW_MARKER = "promptvc: allow-secret"


@dataclass(frozen=True)
class _Kind:
    name: str
    literals: tuple[str, ...]  # a file without any of these cannot hold the kind: not searched
    pattern: re.Pattern[str]
    shown: int  # how many leading characters the masked value may show: the issuer's prefix


_KINDS = [
    _Kind(
        "Anthropic API key", ("sk-ant-",), re.compile(r"\bsk-ant-[a-z]+\d*-[A-Za-z0-9_\-]{20,}"), 7
    ),
    _Kind(
        "OpenAI API key",
        ("sk-",),
        re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}"),
        3,
    ),
    _Kind("AWS access key", ("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), 4),
    _Kind(
        "GitHub token",
        ("gh", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        4,
    ),
    _Kind(  # personal, deploy, runner, pipeline-trigger, feed, incoming-mail and agent tokens
        "GitLab token",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glimt-", "glagent-"),
        re.compile(r"\bgl(?:pat|dt|rt|ptt|ft|imt|agent)-[A-Za-z0-9_\-]{20,}"),
        6,
    ),
    _Kind("Hugging Face token", ("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), 3),
    _Kind(
        "Slack webhook",
        ("hooks.slack.com/",),
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_\-]{20,}"),
        33,
    ),
    _Kind(  # bot, user, app, refresh and config tokens, and app-level `xapp-` tokens
        "Slack token",
        ("xox", "xapp-"),
        re.compile(r"\b(?:xox[abeprs]|xapp)-[A-Za-z0-9\-]{10,}"),
        5,
    ),
    _Kind(
        "Google API key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"), 4
    ),
    _Kind(
        "private key",
        ("PRIVATE KEY",),
        re.compile(r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY(?: BLOCK)?-----"),
        0,
    ),
]
# `name: value`, `name = value`, `"name": "value"`: found from the separator (a character-set
# start keeps the pass fast), then the name before it is looked at. The value is one run of
# key-like characters, so `${VAR}`, `<your key>` and `{{ var }}` never match.
_ASSIGNED = re.compile(r"[:=][ \t]*[\"']?([A-Za-z0-9+/_\-.=]{16,})")
_NAME = re.compile(
    r"(?i:api[_\-]?key|token|secret|password|passwd|access[_\-]?key)[A-Za-z0-9_\-]*[\"']?[ \t]*$"
)
_PLACEHOLDER = re.compile(r"(?i)x{4,}|\.{3}|your|example|placeholder|redacted|dummy|changeme")
MIN_ENTROPY = 3.5  # bits per character: a random base64 or hex key is above it, words below
# A name made of words and numbers (`claude-3-5-sonnet-20241022`, `prod/db/credentials-2024`) can
# be as varied per character as a key; a key's runs mix letters and digits at random.
_SEPARATORS = re.compile(r"[\-_/.:+=]+")
_WORD = re.compile(r"(?:[A-Z]?[a-z]+|[A-Z]+)\d*|\d+|[A-Za-z0-9]{1,3}")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    masked: str

    def text(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.masked}"


ALLOW_HINT = (
    f'a known false positive: add "# {ALLOW_MARKER}" to its line ("{{# {ALLOW_MARKER} #}}" in a '
    "template)"
)


def find_secrets(path: str, text: str) -> list[Finding]:
    """The secrets in one file's text, in order, each with its 1-based line and masked value."""
    found = [
        (match.start(), kind.name, match.group(0), kind.shown)
        for kind in _KINDS
        if any(literal in text for literal in kind.literals)
        for match in kind.pattern.finditer(text)
        if _real(match.group(0), kind.shown)
    ]
    found += [
        (match.start(1), *_assigned_kind(match.group(1)))
        for match in _ASSIGNED.finditer(text)
        if _NAME.search(text, max(0, match.start() - 80), match.start())
        and _secret_value(match.group(1))
    ]
    if not found:
        return []
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    findings: dict[tuple[int, str], Finding] = {}
    for offset, kind, value, shown in sorted(found):
        number = bisect_right(starts, offset)
        end = text.find("\n", offset)
        if ALLOW_MARKER not in text[starts[number - 1] : end if end >= 0 else len(text)]:
            findings.setdefault((number, value), Finding(path, number, kind, mask(value, shown)))
    return list(findings.values())


def _real(value: str, shown: int) -> bool:
    """An issued token's body, not a placeholder (`sk-ant-xxxx…`, `…YOUR-KEY-HERE…`)."""
    if value.startswith("-----"):
        return True
    body = value[shown:]
    return not _PLACEHOLDER.search(body) and len(set(body)) >= 8 and not _wordy(body)


def _assigned_kind(value: str) -> tuple[str, str, int]:
    """`api_key: sk-ant-…` is an Anthropic key, named as such."""
    for kind in _KINDS:
        if kind.pattern.match(value):
            return kind.name, value, kind.shown
    return "secret assigned to a key name", value, 0


def _secret_value(value: str) -> bool:
    if any(kind.pattern.match(value) for kind in _KINDS):
        return _real(value, _assigned_kind(value)[2])
    return (
        not _PLACEHOLDER.search(value)
        and not _wordy(value)
        and entropy(value) >= MIN_ENTROPY
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _wordy(value: str) -> bool:
    """Words and numbers between separators: a model, a path or an id, not an issued secret."""
    pieces = [piece for piece in _SEPARATORS.split(value) if piece]
    return len(pieces) > 1 and all(_WORD.fullmatch(piece) for piece in pieces)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def mask(value: str, shown: int) -> str:
    """The issuer's prefix and two characters either side; never enough to use or to search for."""
    if shown == 0 and value.startswith("-----"):
        return value
    return f"{value[: shown + 2]}***…{value[-2:]}"
