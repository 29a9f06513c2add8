"""A non-editable install ships every file the package reads: each data file under promptvc/
is named by [tool.setuptools.package-data] (the TUI's app.tcss once was not)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    shipped = {
        path
        for package, globs in patterns.items()
        for glob in globs
        for path in (ROOT / package.replace(".", "/")).glob(glob)
        if path.is_file()
    }
    data = {
        path
        for path in (ROOT / "promptvc").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert data, "no data files found: the test looks in the wrong place"
    assert sorted(map(str, data - shipped)) == []
