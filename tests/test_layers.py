"""The layer rules are import-linter contracts in pyproject.toml; the suite checks them too."""

from __future__ import annotations

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
