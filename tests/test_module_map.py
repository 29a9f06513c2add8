"""The README's module map follows the code: every module and package of promptvc is named in
it, and everything it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("promptvc/                 grouped by layer")
    return readme[start : readme.index("```", start)]


def test_every_module_is_on_the_map_and_the_map_names_only_what_exists():
    text = module_map()
    named = set(re.findall(r"(?<![\w/.])([a-z_]+(?:\.py|/))(?=\s)", text)) - {
        "promptvc/",
        "tests/",
        "benchmarks/",
    }
    package = ROOT / "promptvc"
    top = {
        p.name + ("/" if p.is_dir() else "")
        for p in package.iterdir()
        if not p.name.startswith("__") and (p.is_dir() or p.suffix == ".py")
    }
    anywhere = top | {p.name for p in package.glob("*/*.py")}
    assert top <= named, f"modules missing from the README's map: {sorted(top - named)}"
    assert named <= anywhere, f"the map names what does not exist: {sorted(named - anywhere)}"
