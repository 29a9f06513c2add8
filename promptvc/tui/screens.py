"""The drill-down screens: a set's cases, one case's two outputs, the prompt diff, keys, confirm."""

from __future__ import annotations

import difflib

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Label, Static

from promptvc.tui.model import CaseRow, SetRow, failed_assertions
from promptvc.views.terminal import printable, printable_text


def score_cell(score: float | None) -> Text:
    return Text("—", style="dim") if score is None else Text(f"{score:.2f}")


def delta_cell(delta: float | None) -> Text:
    if delta is None:
        return Text("·", style="dim")
    if abs(delta) < 0.005:
        return Text("·", style="dim")
    return Text(f"▲+{delta:.2f}", style="green") if delta > 0 else Text(f"▼−{-delta:.2f}", style="red")


def status_cell(row: dict | None) -> Text:
    if row is None:
        return Text("—", style="dim")
    style = {"passed": "green", "failed": "red"}.get(row["status"], "yellow")
    return Text(row["status"], style=style)


class SetScreen(Screen[None]):
    """A golden set's cases here and at the parent, flips first."""

    AUTO_FOCUS = "#cases"
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, row: SetRow, cases: list[CaseRow], commit_label: str):
        super().__init__()
        self.row = row
        self.cases = cases
        self.commit_label = commit_label

    def compose(self) -> ComposeResult:
        yield Static(Text(f" {self.row.set_id}  ·  prompt {self.row.prompt}  ·  {self.commit_label}", style="bold"))
        table = DataTable(id="cases", cursor_type="row", zebra_stripes=True)
        table.add_columns("case", "here", "parent", "flip", "score")
        for case in self.cases:
            style = "red" if case.flip == "pass→fail" else "green" if case.flip else ""
            table.add_row(case.case_id, status_cell(case.here), status_cell(case.parent), Text(case.flip, style=style),
                          score_cell(case.here["score"] if case.here else None), key=case.case_id)
        if not self.cases:
            yield Static(Text(" no stored results for this set here or at the parent — press escape, then e",
                              style="dim"))
        yield table
        yield Footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        case = next(c for c in self.cases if c.case_id == event.row_key.value)
        self.app.push_screen(CaseScreen(self.row.set_id, case, self.app.diff_text_for_selected()))


def word_diff(old: str, new: str) -> tuple[Text, Text]:
    """Both outputs with the words that differ highlighted."""
    a, b = old.split(" "), new.split(" ")
    left, right = Text(), Text()
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        left.append(" ".join(a[a0:a1]) + " ", style="" if op == "equal" else "bold red")
        right.append(" ".join(b[b0:b1]) + " ", style="" if op == "equal" else "bold green")
    return left, right


class CaseScreen(Screen[None]):
    """One case: its output here beside its output at the parent, why it failed, the judge's reason."""

    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, set_id: str, case: CaseRow, diff_lines: list[Text]):
        super().__init__()
        self.set_id = set_id
        self.case = case
        self.diff_lines = diff_lines

    def compose(self) -> ComposeResult:
        here = printable((self.case.here or {}).get("output") or "")
        parent = printable((self.case.parent or {}).get("output") or "")
        left, right = word_diff(parent, here)
        yield Static(Text(f" {self.set_id}/{self.case.case_id}  {self.case.flip}", style="bold"))
        with Horizontal(id="outputs"):
            with VerticalScroll(classes="pane") as pane:
                pane.border_title = "here"
                yield Static(right if self.case.here else Text("not evaluated", style="dim"))
            with VerticalScroll(classes="pane") as pane:
                pane.border_title = "parent"
                yield Static(left if self.case.parent else Text("not evaluated", style="dim"))
        notes = Text()
        for line in failed_assertions(self.case.here):
            notes.append(line + "\n", style="red")
        if self.case.here and self.case.here.get("judge_reason"):
            notes.append(f"judge: {self.case.here['judge_reason']}\n", style="cyan")
        if self.case.here and self.case.here.get("error"):
            notes.append(f"{self.case.here['status']}: {self.case.here['error']}\n", style="yellow")
        with VerticalScroll(id="case-notes"):
            yield Static(printable_text(notes))
            for line in self.diff_lines:
                yield Static(line)
        yield Footer()


class DiffScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, lines: list[Text]):
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("\n").join(self.lines))
        yield Footer()


KEYS = """\
 enter    open the selected commit / set / case
 escape   back
 d        the commit's prompt diff
 e        evaluate the selected commit (and its parent)
 /        filter by prompt or set name
 r        reload
 ?        this help
 q        quit"""


class KeysScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label(Text("keys", style="bold"))
            yield Static(KEYS)


class ConfirmScreen(ModalScreen[bool]):
    """Asks before spending more than the spend cap."""

    BINDINGS = [Binding("escape,n", "answer(False)", "no"), Binding("y", "answer(True)", "yes")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self.question)
            with Horizontal(id="dialog-buttons"):
                yield Button("Evaluate (y)", id="yes", variant="warning")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
