"""A prompt's `output_schema:`: the structure its answer must have, as a JSON Schema.

Written three ways in front matter: the schema inline, a path to a `.json` file under prompts/
(read from the snapshot, like every prompt file), or `module:Class` naming a Pydantic model in
the repository. A model is repository code: it is loaded (from the snapshot's blobs, as python
assertions are) only by a command that evaluates; elsewhere the schema is known by its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from promptvc.errors import UserError
from promptvc.evals.pyassert import SnapshotModules, module_files, split_spec, valid_spec
from promptvc.git.snapshot import Snapshot


def check_json_schema(schema: Any) -> None:
    """The assertions' own check (one rule), imported only when a prompt has a schema: rendering
    a prompt without one (the runtime API) never loads the assertions."""
    from promptvc.evals.assertions import check_json_schema as check

    check(schema)


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


# -- what a change of schema changes -------------------------------------------------------

SchemaChangeKind = Literal[
    "added", "removed", "type changed", "now required", "now optional", "constraints changed"
]
MAX_SCHEMA_DEPTH = 32  # a recursive model ($ref to itself) is walked this deep, no further


@dataclass(frozen=True)
class SchemaChange:
    """One field's change: `field` is a path (`items[].sku`; `(root)` for the whole answer)."""

    kind: SchemaChangeKind
    field: str
    old: str | None = None  # the field's type before (a JSON Schema type, `enum`, `any`, ...)
    new: str | None = None


def schema_changes(old: dict | None, new: dict | None) -> list[SchemaChange]:
    """Fields added, removed, retyped, made required or optional, walking objects' properties and
    arrays' items (local `$ref`s followed, as Pydantic writes nested models)."""
    changes: list[SchemaChange] = []
    if old is None or new is None:  # a schema added or dropped: every field comes or goes
        old = old if old is not None else _shape_of(new)
        new = new if new is not None else _shape_of(old)
    _walk(old, new, "", changes, (old, new), 0)
    if not changes and old != new:  # a pattern, a bound, a format, a description
        changes.append(SchemaChange("constraints changed", "(root)"))
    return changes


def _shape_of(schema: dict | None) -> dict:
    """An empty schema of the same type: what the side without a schema is compared as."""
    return {"type": schema["type"]} if schema and "type" in schema else {}


def _walk(old: dict, new: dict, path: str, out: list, roots: tuple[dict, dict], depth: int) -> None:
    if depth > MAX_SCHEMA_DEPTH:
        return
    old, new = _deref(old, roots[0]), _deref(new, roots[1])
    if type_name(old, roots[0]) != type_name(new, roots[1]):
        out.append(
            SchemaChange(
                "type changed", path or "(root)", type_name(old, roots[0]), type_name(new, roots[1])
            )
        )
        return
    before, after = _properties(old), _properties(new)
    required = set(old.get("required") or ()), set(new.get("required") or ())
    for name in sorted(before.keys() | after.keys()):
        field = f"{path}.{name}" if path else name
        if name not in before:
            out.append(SchemaChange("added", field, None, type_name(after[name], roots[1])))
        elif name not in after:
            out.append(SchemaChange("removed", field, type_name(before[name], roots[0]), None))
        else:
            if (name in required[0]) != (name in required[1]):
                kind: SchemaChangeKind = "now required" if name in required[1] else "now optional"
                out.append(SchemaChange(kind, field))
            _walk(before[name], after[name], field, out, roots, depth + 1)
    items = old.get("items"), new.get("items")
    if isinstance(items[0], dict) and isinstance(items[1], dict):
        _walk(items[0], items[1], f"{path}[]", out, roots, depth + 1)


def _properties(schema: dict) -> dict:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {str(k): v if isinstance(v, dict) else {} for k, v in properties.items()}


def _deref(schema: Any, root: dict) -> dict:
    """A local `$ref` (`#/$defs/Item`) replaced by what it points to; anything else as it is."""
    for _hop in range(MAX_SCHEMA_DEPTH):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            break
        schema = target
    return schema if isinstance(schema, dict) else {}


def type_name(schema: Any, root: dict | None = None) -> str:
    """A field's type in a word: its JSON Schema type(s), `enum`, `const`, or `any`."""
    schema = _deref(schema, root or {})
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    for word in ("enum", "const"):
        if word in schema:
            return word
    for word in ("anyOf", "oneOf"):
        options = schema.get(word)
        if isinstance(options, list) and options:
            return " | ".join(type_name(o, root) for o in options)
    return "object" if "properties" in schema else "any"
