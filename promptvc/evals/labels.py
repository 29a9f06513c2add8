"""Human labels of the judge's work (`evals/labels/SET.jsonl`): one JSON object a line, a person's
1-5 score of one output against one rubric. They live in the repository, so they are reviewed in
pull requests and read from a snapshot like every other file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from promptvc.errors import UserError, did_you_mean
from promptvc.git.snapshot import Snapshot
from promptvc.jsonlines import json_objects

LABELS_DIR = "labels"
SCALE = (1, 2, 3, 4, 5)  # the judge's scale, and the person's
REQUIRED = {"case": str, "rubric": str, "output": str, "score": int}
OPTIONAL = {"note": str, "by": str, "at": str}


@dataclass(frozen=True)
class Label:
    case: str
    rubric: str
    output: str
    score: int
    note: str | None = None
    by: str | None = None
    at: str | None = None
    line: int = 0  # where it is written (0: not yet written)

    @property
    def pair(self) -> tuple[str, str, str]:
        """What was labelled: one output of one case, against one rubric."""
        return self.case, self.rubric, self.output

    def as_json(self) -> str:
        row = {"case": self.case, "rubric": self.rubric, "output": self.output, "score": self.score}
        row.update({k: v for k, v in (("note", self.note), ("by", self.by), ("at", self.at)) if v})
        return json.dumps(row, ensure_ascii=False)


def labels_path(evals_dir: str, set_id: str) -> str:
    return f"{evals_dir.rstrip('/')}/{LABELS_DIR}/{set_id}.jsonl"


def labels_files(snapshot: Snapshot, evals_dir: str) -> dict[str, str]:
    """{set id: path} of every labels file in the snapshot."""
    folder = f"{evals_dir.rstrip('/')}/{LABELS_DIR}"
    return {
        path[len(folder) + 1 : -len(".jsonl")]: path for path in snapshot.under(folder, (".jsonl",))
    }


def read_labels(snapshot: Snapshot, path: str, case_ids: Iterable[str]) -> tuple[Label, ...]:
    """The labels of a file (none when it does not exist), each checked; the first bad line is an
    error naming the file and the line."""
    if path not in snapshot:
        return ()
    return parse_labels(snapshot.read_text(path), path, case_ids)


def parse_labels(text: str, path: str, case_ids: Iterable[str]) -> tuple[Label, ...]:
    known = set(case_ids)
    return tuple(
        _label(row, known, path, number) for number, row in json_objects(text.splitlines(), path)
    )


def _label(row: dict, known: set[str], path: str, line: int) -> Label:
    def bad(why: str) -> UserError:
        return UserError(why, path=path, line=line)

    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        fields = [*REQUIRED, *OPTIONAL]
        raise bad(f"unknown key '{unknown[0]}'{did_you_mean(unknown[0], fields)}")
    for key in REQUIRED:
        if key not in row:
            raise bad(f"missing '{key}' (a label has {', '.join(REQUIRED)})")
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        value = row.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise bad(f"'{key}' must be {'a whole number' if kind is int else 'a string'}")
    if row["score"] not in SCALE:
        raise bad(f"score must be a whole number from 1 to 5, not {row['score']}")
    if row["case"] not in known:
        raise bad(f"unknown case '{row['case']}'{did_you_mean(row['case'], known)}")
    return Label(
        row["case"],
        row["rubric"],
        row["output"],
        row["score"],
        row.get("note"),
        row.get("by"),
        row.get("at"),
        line,
    )


def append_label(root: Path, path: str, label: Label) -> str:
    """Add one label at the end of the file (in the working tree), creating folders as needed;
    returns the line written, which `remove_label` takes to undo it."""
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    line = label.as_json()
    with open(target, "a+b") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":  # a file edited by hand may lack its last newline
                handle.write(b"\n")
        handle.write(line.encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return line


def remove_label(root: Path, path: str, line: str) -> bool:
    """Remove the last occurrence of a line `append_label` wrote; False when it is no longer there."""
    target = root / path
    try:
        lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return False
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].rstrip("\r\n") == line:
            del lines[index]
            temporary = target.with_name(target.name + ".tmp")
            temporary.write_text("".join(lines), encoding="utf-8")
            os.replace(temporary, target)
            return True
    return False
