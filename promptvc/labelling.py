"""What a person labels, UI-free: a golden set's stored outputs, one (case, rubric, output) at a
time, and a session that appends each score to the labels file and can take the last one back.
The `label` screen and the TUI's case view (`l`) drive one of these."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptvc.clock import now
from promptvc.errors import UserError
from promptvc.evals.assertions import judge_verdict_of
from promptvc.evals.goldens import GoldenSet
from promptvc.evals.labels import Label, append_label, labels_path, remove_label
from promptvc.evals.scoring import Status
from promptvc.git.snapshot import Snapshot, Where
from promptvc.jsonlines import json_objects
from promptvc.store import Store
from promptvc.workspace import Workspace


@dataclass(frozen=True)
class LabelItem:
    case: str
    vars: dict
    rubric: str
    output: str
    judge: tuple[int, str] | None  # the judge's stored verdict: shown only once the person scored

    @property
    def pair(self) -> tuple[str, str, str]:
        return self.case, self.rubric, self.output


@dataclass(frozen=True)
class LabelWork:
    set_id: str
    path: str  # the labels file, from the repository's root (always the working tree's)
    items: tuple[LabelItem, ...]
    already: int  # outputs left out because they are labelled already
    source: str  # whose outputs these are, in words


def label_work(
    ws: Workspace,
    store: Store,
    where: Where,
    set_name: str,
    *,
    set_key: str | None = None,
    first_case: str | None = None,
) -> LabelWork:
    """The outputs stored for a set at a snapshot (or under `set_key`, as the TUI knows it), each
    llm-rubric of its case once, without those already labelled; `first_case` first."""
    snapshot = ws.snapshot(where)
    golden = _one_set(ws, snapshot, set_name)
    rubrics = {c.id: [a for a in c.asserts if a.type == "llm-rubric"] for c in golden.cases}
    if not any(rubrics.values()):
        raise UserError(
            f"golden set {golden.id} has no llm-rubric assertion: there is no judge to label for",
            path=golden.path,
        )
    rows, source = _stored_outputs(ws, store, snapshot, golden, set_key)
    path = labels_path(ws.settings.evals_dir, golden.id)
    done = labelled_pairs(ws, path)
    cases = {c.id: c for c in golden.cases}
    items: dict[tuple[str, str, str], LabelItem] = {}
    already = 0
    for row in sorted(rows, key=lambda r: (r["case_id"] != first_case, r["case_id"], r["sample"])):
        grades = {g["label"]: g for g in json.loads(row["grades"] or "[]")}
        for assertion in rubrics.get(row["case_id"], ()):
            grade = grades.get(assertion.label)
            item = LabelItem(
                row["case_id"],
                dict(cases[row["case_id"]].vars),
                str(assertion.value),
                row["output"],
                judge_verdict_of(grade["reason"]) if grade else None,
            )
            if item.pair in done:
                already += 1
            else:
                items.setdefault(item.pair, item)
    return LabelWork(golden.id, path, tuple(items.values()), already, source)


def _one_set(ws: Workspace, snapshot: Snapshot, set_name: str) -> GoldenSet:
    from promptvc.evaluation.plan import select_sets
    from promptvc.names import as_name

    goldens, unreadable = ws.read_goldens(snapshot)
    chosen, broken = select_sets(goldens, (as_name(set_name, ws.settings.prompts_dir),), unreadable)
    if broken:
        raise broken[0].error
    if len(chosen) != 1:
        ids = ", ".join(g.id for g in chosen)
        raise UserError(f"'{set_name}' matches {len(chosen)} golden sets ({ids}); name one")
    return chosen[0]


def _stored_outputs(
    ws: Workspace, store: Store, snapshot: Snapshot, golden: GoldenSet, set_key: str | None
) -> tuple[list[dict], str]:
    """The evaluated results of the set as it is at the snapshot, else of its latest run."""
    if set_key is None:
        from promptvc.evaluation.keys import set_identity
        from promptvc.evaluation.keys import set_key as key_of

        renderer = ws.renderer(snapshot)
        identity = set_identity(renderer, golden, None, ws.settings.provider)
        set_key = key_of(renderer, golden, identity)
    source = f"outputs at {snapshot.label}"
    rows = _evaluated(store.results_for_set(set_key))
    if not rows:
        latest = store.latest_set_key(golden.id)
        rows = _evaluated(store.results_for_set(latest)) if latest else []
        source = "outputs of the set's latest run (none stored for it at " + snapshot.label + ")"
    if not rows:
        raise UserError(
            f"no stored outputs of golden set {golden.id} to label; run `promptvc eval {golden.id}` first"
        )
    return rows, source


def _evaluated(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] in (Status.PASSED, Status.FAILED) and r["output"]]


def labelled_pairs(ws: Workspace, path: str) -> set[tuple[str, str, str]]:
    """(case, rubric, output) of the labels already in the working tree's file."""
    target = ws.root / path
    if not target.is_file():
        return set()
    rows = json_objects(target.read_text(encoding="utf-8-sig").splitlines(), path)
    return {(str(r.get("case")), str(r.get("rubric")), str(r.get("output"))) for _, r in rows}


@dataclass
class LabelSession:
    """Walks the items: a score appends a label and moves on, `skip` moves on, `undo` removes the
    last label this session appended and goes back to its item."""

    work: LabelWork
    root: Path  # the repository's root: labels go into its working tree
    by: str | None
    clock: Callable[[], str] = now
    position: int = 0
    note: str = ""
    written: list[tuple[int, Label, str]] = field(default_factory=list)  # (item, label, line)

    @property
    def current(self) -> LabelItem | None:
        items = self.work.items
        return items[self.position] if self.position < len(items) else None

    @property
    def last(self) -> tuple[LabelItem, Label] | None:
        """The item labelled last and its label: the judge's verdict is shown beside it."""
        if not self.written:
            return None
        index, label, _ = self.written[-1]
        return self.work.items[index], label

    def score(self, value: int) -> Label:
        item = self.current
        if item is None:
            raise IndexError("every output has been walked")
        label = Label(
            item.case,
            item.rubric,
            item.output,
            value,
            self.note.strip() or None,
            self.by,
            self.clock(),
        )
        line = append_label(self.root, self.work.path, label)
        self.written.append((self.position, label, line))
        self.note = ""
        self.position += 1
        return label

    def skip(self) -> None:
        if self.current is not None:
            self.position += 1
            self.note = ""

    def undo(self) -> Label | None:
        """Take back the last label of this session; None when there is none."""
        if not self.written:
            return None
        index, label, line = self.written.pop()
        remove_label(self.root, self.work.path, line)
        self.position = index
        self.note = label.note or ""
        return label
