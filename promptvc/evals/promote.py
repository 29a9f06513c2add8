"""Captured calls as new golden cases: the text of a golden file (or its .jsonl cases file) with
the cases appended, leaving every other line of it as the user wrote it.

A case keeps the call's vars (those equal to the set's own `vars` are left to the set), takes
its id from a hash of them as any case without an id does, and is skipped when the set already
has a case with the same vars or id. The output is kept as a comment under the case, or, for a
failure, as a `not-equals` assertion. The new text is parsed back and compared with what was
meant before anyone writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from promptvc.errors import UserError
from promptvc.evals.captures import CapturedCall
from promptvc.evals.goldens import GoldenSet, case_id_for
from promptvc.yamlfile import dump_for_review, parse_yaml

COMMENT_LINES = 20  # of a kept output; the rest is counted, not copied
DEFAULT_INDENT = 2


@dataclass(frozen=True)
class Promotion:
    path: str  # the file that changes: the golden file, or the cases file it names
    before: str
    after: str
    added: tuple[str, ...]  # the new cases' ids
    already: int  # calls whose case the set has already (or that repeat an earlier call)


def write_promotion(root: Path, promotion: Promotion) -> None:
    """The promoted file, whole, with its own line ends and byte-order mark."""
    from promptvc.atomicfile import as_written, write_atomically

    target = root / promotion.path
    write_atomically(target, as_written(target, promotion.after))


def promote(
    golden: GoldenSet,
    golden_text: str,
    cases_text: str | None,
    calls: Iterable[CapturedCall],
    *,
    as_failure: bool = False,
) -> Promotion:
    """`cases_text` is the cases file's text when the set keeps its cases in one."""
    shared = (parse_yaml(golden_text, golden.path) or {}).get("vars") or {}
    cases, already = _new_cases(golden, shared, calls, as_failure)
    if golden.cases_path is None:
        after = _append_to_yaml(golden_text, golden.path, [c for c, _ in cases])
        path, before = golden.path, golden_text
    elif golden.cases_path.endswith(".jsonl") and cases_text is not None:
        after = _append_to_jsonl(cases_text, golden.cases_path, [c for c, _ in cases])
        path, before = golden.cases_path, cases_text
    else:
        raise UserError(
            "promote appends to inline cases or a .jsonl cases file, not to a .csv",
            path=golden.cases_path,
        )
    return Promotion(path, before, after, tuple(c.data["id"] for c, _ in cases), already)


@dataclass(frozen=True)
class _NewCase:
    data: dict  # id, vars, and assert when it is a failure
    comment: list[str]  # the output, under the case in YAML
    note: str | None  # the output, as a JSON Lines case's description


def _new_cases(
    golden: GoldenSet, shared: dict, calls: Iterable[CapturedCall], as_failure: bool
) -> tuple[list[tuple[_NewCase, CapturedCall]], int]:
    known_vars = {_canonical(case.vars) for case in golden.cases}
    known_ids = {case.id for case in golden.cases}
    cases: list[tuple[_NewCase, CapturedCall]] = []
    already = 0
    for call in calls:
        own = {k: v for k, v in call.vars.items() if not (k in shared and shared[k] == v)}
        merged = _canonical({**shared, **own})
        case_id = case_id_for(own)
        if case_id in known_ids or merged in known_vars:
            already += 1
            continue
        known_ids.add(case_id)
        known_vars.add(merged)
        data: dict = {"id": case_id, "vars": own}
        if as_failure:
            data["assert"] = [{"type": "not-equals", "value": call.output}]
        if as_failure:
            cases.append((_NewCase(data, [], None), call))
        else:
            about = _about(call)
            note = f"captured output{f' ({about})' if about else ''}: {call.output}"
            cases.append((_NewCase(data, _output_comment(call.output, about), note), call))
    return cases, already


def _canonical(variables: dict) -> str:
    """Vars as one comparable text: equal vars, equal text, whatever their keys' order."""
    return json.dumps(variables, sort_keys=True, ensure_ascii=False, default=str)


def _about(call: CapturedCall) -> str:
    """When, with which model and at which commit the call was made, as far as the line says."""
    record = call.record
    commit = str((record.get("provenance") or {}).get("commit") or "")[:12]
    parts = (record.get("time"), record.get("model"), commit and f"commit {commit}")
    return ", ".join(str(part) for part in parts if part)


def _output_comment(output: str, about: str) -> list[str]:
    lines = output.splitlines() or [""]
    kept = [f"#   {_printable(line)}".rstrip() for line in lines[:COMMENT_LINES]]
    if len(lines) > COMMENT_LINES:
        kept.append(f"#   … ({len(lines) - COMMENT_LINES} more lines)")
    return [f"# captured output ({about}):" if about else "# captured output:", *kept]


def _printable(text: str) -> str:
    """A line a YAML comment can hold: control characters spelled out."""
    return "".join(c if c.isprintable() or c == "\t" else f"\\x{ord(c):02x}" for c in text)


def _case_yaml(case: _NewCase, indent: int) -> list[str]:
    dumped = dump_for_review([case.data])
    pad = " " * indent
    lines = [pad + line if line else line for line in dumped.splitlines()]
    return lines + [pad + "  " + line for line in case.comment]


def _append_to_yaml(text: str, path: str, cases: list[_NewCase]) -> str:
    if not cases:
        return text
    lines = text.splitlines()
    insert_at, indent, lines = _where_cases_go(text, path, lines)
    new = [line for case in cases for line in _case_yaml(case, indent)]
    after = "\n".join(lines[:insert_at] + new + lines[insert_at:]) + "\n"
    _check_yaml(text, after, path, [c.data for c in cases])
    return after


def _where_cases_go(text: str, path: str, lines: list[str]) -> tuple[int, int, list[str]]:
    """(the line index to insert at, the items' indent, the lines, with `cases:` made ready)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise UserError("a golden set must be a mapping", path=path)
    node = next(
        (value for key, value in root.value if getattr(key, "value", None) == "cases"), None
    )
    if node is None:
        return len(lines) + 1, DEFAULT_INDENT, [*lines, "cases:"]
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _after_block(lines, node), node.start_mark.column, lines
    empty = (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")) or (
        isinstance(node, yaml.SequenceNode) and not node.value
    )
    if not empty or node.start_mark.line != node.end_mark.line:
        raise UserError(
            "'cases' is written on one line ([...]); write it as a block list (one '- ' per "
            "case) to promote into it",
            path=path,
            line=node.start_mark.line + 1,
        )
    row = node.start_mark.line
    line = lines[row]
    if node.start_mark.index != node.end_mark.index:  # `[]`, `null` or `~`: the list replaces it
        start = node.start_mark.column
        line = (line[:start] + line[start + node.end_mark.index - node.start_mark.index :]).rstrip()
    return row + 1, DEFAULT_INDENT, [*lines[:row], line, *lines[row + 1 :]]


def _after_block(lines: list[str], node: yaml.SequenceNode) -> int:
    """Just after the last item: before the blank lines and the comments at the list's own
    indent or less that come before the next key (those belong to it)."""
    end = min(node.end_mark.line + (1 if node.end_mark.column else 0), len(lines))
    indent = node.start_mark.column
    while end > node.start_mark.line + 1:
        line = lines[end - 1]
        stripped = line.lstrip()
        if stripped and not (stripped.startswith("#") and len(line) - len(stripped) <= indent):
            break
        end -= 1
    return end


def _check_yaml(before: str, after: str, path: str, added: list[dict]) -> None:
    old = parse_yaml(before, path) or {}
    new = parse_yaml(after, path) or {}
    expected = {**old, "cases": [*(old.get("cases") or []), *added]}
    if new != expected:
        raise UserError(
            "could not append the cases without changing the rest of the file (nothing was "
            "written); add them by hand",
            path=path,
        )


def _append_to_jsonl(text: str, path: str, cases: list[_NewCase]) -> str:
    if not cases:
        return text
    rows = [
        json.dumps(
            {**case.data, **({"description": case.note} if case.note else {})}, ensure_ascii=False
        )
        for case in cases
    ]
    after = text + ("\n" if text and not text.endswith("\n") else "") + "\n".join(rows) + "\n"
    if [json.loads(row)["id"] for row in after.splitlines()[-len(rows) :]] != [
        c.data["id"] for c in cases
    ]:
        raise UserError("could not append the cases (nothing was written)", path=path)
    return after
