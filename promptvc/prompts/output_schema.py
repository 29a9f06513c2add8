"""A prompt's `output_schema:`: the structure its answer must have, as a JSON Schema.

Written three ways in front matter: the schema inline, a path to a `.json` file under prompts/
(read from the snapshot, like every prompt file), or `module:Class` naming a Pydantic model in
the repository. A model is repository code: it is loaded (from the snapshot's blobs, as python
assertions are) only by a command that evaluates; elsewhere the schema is known by its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from promptvc.errors import UserError
from promptvc.evals.assertions import check_json_schema
from promptvc.evals.pyassert import SnapshotModules, module_files, split_spec, valid_spec
from promptvc.git.snapshot import Snapshot

KEY = "output_schema"
FILE_SUFFIX = ".json"
PYDANTIC_INSTALL = "pip install pydantic"


@dataclass(frozen=True)
class OutputSchema:
    """`source` is "inline", the schema file's path, or the model's `module:Class`; `schema` is
    None for a model that has not been loaded (only evaluating loads it)."""

    source: str
    schema: dict | None

    @property
    def model(self) -> str | None:
        return self.source if valid_spec(self.source) else None

    @property
    def module(self) -> str | None:
        return split_spec(self.source)[0] if self.model else None


def spec_problem(value: Any) -> str | None:
    """Why a front-matter `output_schema` value is not one of its three forms, or None."""
    if isinstance(value, dict):
        try:
            check_json_schema(value)
        except ValueError as exc:
            return f"output_schema: {exc}"
        return None
    if isinstance(value, str) and (value.endswith(FILE_SUFFIX) or valid_spec(value)):
        return None
    return (
        "'output_schema' must be a JSON Schema (a mapping), a path to a .json file under "
        "prompts/, or 'module:Class' naming a Pydantic model"
    )


def static_schema(value: Any, read_file, prompt_path: str) -> OutputSchema:
    """The schema as far as it is known without running code: inline, or read from its file with
    `read_file(relative) -> (path, text)`; a model by its name only."""
    if isinstance(value, dict):
        return OutputSchema("inline", value)
    if valid_spec(value):
        return OutputSchema(value, None)
    try:
        path, text = read_file(value)
    except KeyError:
        raise UserError(f"output_schema file '{value}' not found", path=prompt_path) from None
    return OutputSchema(path, parse_schema_file(text, path))


def parse_schema_file(text: str, path: str) -> dict:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except RecursionError:
        raise UserError("not JSON: nested too deeply", path=path) from None
    if not isinstance(schema, dict):
        raise UserError("a JSON Schema must be an object", path=path)
    try:
        check_json_schema(schema)
    except ValueError as exc:
        raise UserError(str(exc), path=path) from None
    return schema


def loaded(output: OutputSchema, snapshot: Snapshot, root: str, where: str) -> OutputSchema:
    """The schema with its Pydantic model loaded from the snapshot (runs repository code)."""
    if output.schema is not None or output.model is None:
        return output
    return OutputSchema(output.source, model_schema(snapshot, output.source, root, where))


def model_schema(snapshot: Snapshot, spec: str, root: str, where: str) -> dict:
    """`model_json_schema()` of the Pydantic model `module:Class`, loaded from the snapshot."""
    module_name, class_name = split_spec(spec)
    modules = snapshot.python_modules
    if not isinstance(modules, SnapshotModules):
        modules = snapshot.python_modules = SnapshotModules(snapshot, root)
    try:
        module = modules.module(module_name)
    except ImportError as exc:
        if exc.name == "pydantic" or str(exc.name).startswith("pydantic."):
            raise UserError(
                f"output_schema '{spec}' needs pydantic: {PYDANTIC_INSTALL}", path=where
            ) from None
        raise UserError(f"output_schema '{spec}' does not import: {exc}", path=where) from None
    except Exception as exc:  # the module's own code raised while it was loaded
        detail = " ".join(str(exc).split())[:200]
        raise UserError(
            f"output_schema '{spec}' does not import: {type(exc).__name__}: {detail}", path=where
        ) from None
    if module is None:
        raise UserError(
            f"output_schema '{spec}': no {module_files(module_name)[0]} in {snapshot.label}",
            path=where,
        )
    model = getattr(module, class_name, None)
    if not callable(getattr(model, "model_json_schema", None)):
        raise UserError(
            f"output_schema '{spec}': {class_name} is not a Pydantic model "
            "(a class with model_json_schema)",
            path=where,
        )
    try:
        schema = model.model_json_schema()  # type: ignore[union-attr]
        check_json_schema(schema)
    except Exception as exc:
        raise UserError(f"output_schema '{spec}': {exc}", path=where) from None
    return schema


def canonical_json(text: str) -> str | None:
    """The JSON in `text`, keys sorted, no insignificant space; None when it is not JSON."""
    try:
        return json.dumps(
            json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
    except (json.JSONDecodeError, RecursionError):
        return None
