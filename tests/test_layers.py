"""The layer rules are import-linter contracts in pyproject.toml; the suite checks them too."""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

import promptvc

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_layer_contracts_hold(capsys):
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert "Contracts: 0 kept" not in report
    assert status == 0, report


def test_the_contracts_check_this_checkout():
    # The graph is built from the promptvc that imports, which must be the one beside the contracts.
    assert Path(promptvc.__file__).resolve().parent == PYPROJECT.parent / "promptvc"


FACE = {"promptvc.cli", "promptvc.cli_team", "promptvc.commands", "promptvc.views", "promptvc.tui"}


def test_every_module_is_face_or_domain():
    # A new module is either part of the face or named in the domain contract, never unchecked.
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    domain = set(next(c for c in contracts if c["name"].startswith("The domain"))["source_modules"])
    package = PYPROJECT.parent / "promptvc"
    children = {f"promptvc.{p.stem}" for p in package.glob("*.py") if not p.stem.startswith("__")}
    children |= {f"promptvc.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert sorted(children - FACE - domain) == []
