"""The README's examples are real output: every block marked `<!-- readme: run -->` is run, as
written, in a fresh clone of this repository, and its output compared with the block (`...`
stands for any text, as in doctest). Offline: no key, so model sets are skipped, as a newcomer
sees them."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- readme: run -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```[^\n]*\n(.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    """(command, expected output) for each `$ promptvc …` line of the marked blocks."""
    found = []
    for block in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        for chunk in re.split(r"^(?=\$ )", block, flags=re.M):
            if chunk.startswith("$ "):
                command, _, output = chunk.partition("\n")
                found.append((command[2:], output))
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    target = tmp_path_factory.mktemp("readme") / "promptvc"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(target)], check=True)
    return target


def test_the_readme_has_runnable_examples():
    assert len(examples()) >= 4


@pytest.mark.parametrize(("command", "expected"), examples(), ids=[c for c, _ in examples()])
def test_readme_example(clone, command, expected):
    argv = shlex.split(command)
    assert argv[0] == "promptvc"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PROMPTVC_"))}
    # The code under test is this checkout's (-P: not the clone's own copy); the data is the clone's.
    env.update(NO_COLOR="1", COLUMNS="100", PAGER="cat", TERM="dumb", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "promptvc", *argv[1:]],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    got = "\n".join(line.rstrip() for line in (proc.stdout + proc.stderr).splitlines()) + "\n"
    want = "\n".join(line.rstrip() for line in expected.splitlines()) + "\n"
    got, want = (
        re.sub(r"\b\d+\.\d\ds\b", "0.00s", text) for text in (got, want)
    )  # elapsed times vary
    checker = doctest.OutputChecker()
    assert checker.check_output(want, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE), (
        f"README example `{command}` no longer matches; it prints:\n{got}"
    )
