"""`promptvc schema`: the JSON Schemas that editors use to complete and check promptvc's files."""

from __future__ import annotations

from importlib import resources


def schema_text(name: str) -> str:
    return (resources.files("promptvc") / "schemas" / f"{name}.schema.json").read_text(
        encoding="utf-8"
    )


def run(name: str) -> int:
    print(schema_text(name), end="")
    return 0
