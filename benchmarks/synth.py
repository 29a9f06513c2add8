"""Synthetic repositories for the benchmarks, written with `git fast-import` (about a second)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

TIERS = ["fast", "default", "smart", "bulk"]


def tiers_yaml(fast_model: str = "claude-haiku-4-5") -> str:
    return (
        f"fast: {{model: {fast_model}, max_tokens: 512}}\n"
        "default: {model: claude-sonnet-4-5, max_tokens: 1024}\n"
        "smart: {model: claude-opus-4-5, max_tokens: 2048}\n"
        "bulk: {model: claude-haiku-4-5, max_tokens: 256}\n"
        "judge: {model: claude-haiku-4-5, max_tokens: 256, temperature: 0}\n"
    )


def prompt_text(i: int, revision: int = 0) -> str:
    tier = "fast" if i < 300 else TIERS[1 + i % 3]
    return (
        f"---\ndescription: synthetic prompt {i}\ntier: {tier}\ntemperature: 0\n"
        f"examples: examples/e{i % 10}.yaml\ninputs: [question, context]\n---\n"
        f"system:\nYou are assistant number {i} (revision {revision}). Use this context:\n{{{{ context }}}}\n"
        f'{{% include "partials/p{i % 10}.jinja" %}}\n'
        "{% for ex in examples %}\nuser:\n{{ ex.q }}\nassistant:\n{{ ex.a }}\n{% endfor %}\n"
        "user:\n{{ question }}\n"
    )


def golden_text(i: int, cases: int = 2, provider: str | None = None) -> str:
    lines = [f"prompt: p{i:04d}", "threshold: 0.5"]
    if provider:
        lines.append(f"provider: {provider}")
    lines.append(f"vars: {{context: 'context for prompt {i}'}}")
    lines.append("cases:")
    for c in range(cases):
        lines.append(
            f"  - id: c{c}\n    vars: {{question: 'question {c} for {i}?'}}\n"
            f"    assert: [{{type: contains, value: 'answer'}}]"
        )
    return "\n".join(lines) + "\n"


def base_files(
    prompts: int = 1000, goldens: int = 1000, cases: int = 2, provider: str | None = None
) -> dict:
    files = {"prompts/tiers.yaml": tiers_yaml(), ".gitignore": ".promptvc/\n"}
    for p in range(10):
        files[f"prompts/partials/p{p}.jinja"] = f"Partial {p}: be precise and kind.\n"
        files[f"prompts/examples/e{p}.yaml"] = (
            f"- {{q: 'example question {p}', a: 'example answer {p}'}}\n"
        )
    for i in range(prompts):
        files[f"prompts/p{i:04d}.jinja"] = prompt_text(i)
    for i in range(goldens):
        files[f"evals/g{i:04d}.yaml"] = golden_text(i, cases, provider)
    return files


def _blob(data: str) -> bytes:
    raw = data.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def fast_import(
    root: Path,
    commits: list[tuple[str, dict]],
    branch: str = "main",
    parent: str | None = None,
    start: int = 1_700_000_000,
) -> None:
    """Each commit: (message, {path: text or None to delete})."""
    stream = bytearray()
    for n, (message, files) in enumerate(commits):
        stream += f"commit refs/heads/{branch}\nmark :{n + 1}\n".encode()
        stamp = f"Bench <bench@example.invalid> {start + n * 3600} +0000\n"
        stream += b"author " + stamp.encode() + b"committer " + stamp.encode()
        stream += _blob(message)
        if n == 0 and parent:
            stream += f"from {parent}\n".encode()
        for path, text in files.items():
            if text is None:
                stream += f"D {path}\n".encode()
            else:
                stream += f"M 100644 inline {path}\n".encode() + _blob(text)
        stream += b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True)


def make_repo(
    root: Path,
    *,
    prompts: int = 1000,
    goldens: int = 1000,
    commits: int = 200,
    cases: int = 2,
    provider: str | None = None,
    changed_per_commit: int = 5,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    history = [("initial prompts", base_files(prompts, goldens, cases, provider))]
    for c in range(1, commits):
        changed = {}
        for k in range(changed_per_commit):
            i = (c * changed_per_commit + k) % prompts
            changed[f"prompts/p{i:04d}.jinja"] = prompt_text(i, revision=c)
        history.append((f"improve prompts, round {c}", changed))
    fast_import(root, history)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)
    return root


def git_env() -> dict:
    env = dict(os.environ)
    env.update(
        {
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "b@example.invalid",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "b@example.invalid",
        }
    )
    env.pop("ANTHROPIC_API_KEY", None)
    return env
