"""The drill-down screens: a set's cases, one case's two outputs, the prompt diff, keys, confirm."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Label, Static

from promptvc.compare import Direction, is_unchanged
from promptvc.evals.routes import answered_by
from promptvc.evals.scoring import Status
from promptvc.history import CaseMark
from promptvc.tui.model import CaseRequest, CaseRow, SetRow, failed_assertions
from promptvc.views.terminal import printable, printable_text


def score_cell(score: float | None) -> Text:
    return Text("—", style="dim") if score is None else Text(f"{score:.2f}")


def delta_cell(delta: float | None) -> Text:
    if delta is None or is_unchanged(delta):
        return Text("·", style="dim")
    return (
        Text(f"▲+{delta:.2f}", style="green") if delta > 0 else Text(f"▼−{-delta:.2f}", style="red")
    )


def status_cell(row: dict | None) -> Text:
    if row is None:
        return Text("—", style="dim")
    style = {Status.PASSED: "green", Status.FAILED: "red"}.get(row["status"], "yellow")
    return Text(row["status"], style=style)


class SetScreen(Screen[None]):
    """A golden set's cases here and at the parent, flips first."""

    AUTO_FOCUS = "#cases"
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(
        self,
        row: SetRow,
        cases: list[CaseRow],
        commit_label: str,
        *,
        open_case: Callable[[CaseRow], CaseScreen] | None = None,
    ):
        super().__init__()
        self.row = row
        self.cases = cases
        self.commit_label = commit_label
        # The app fills a case screen in with what it reads slowly (the prompt diff, the request).
        self.open_case = open_case or (lambda case: CaseScreen(row.set_id, case))

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                f" {self.row.set_id}  ·  prompt {self.row.prompt}  ·  {self.commit_label}",
                style="bold",
            )
        )
        table: DataTable[str | Text] = DataTable(id="cases", cursor_type="row", zebra_stripes=True)
        table.add_columns("case", "parent", "here", "flip", "score")
        for case in self.cases:
            style = (
                {Direction.REGRESSED: "red", Direction.FIXED: "green"}.get(case.flip, "")
                if case.flip
                else ""
            )
            flip = case.flip.value if case.flip else ""
            table.add_row(
                case.case_id,
                status_cell(case.parent),
                status_cell(case.here),
                Text(flip, style=style),
                score_cell(case.here["score"] if case.here else None),
                key=case.case_id,
            )
        if not self.cases:
            yield Static(
                Text(
                    " no stored results for this set here or at the parent — press escape, then e",
                    style="dim",
                )
            )
        yield table
        yield Footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        case = next(c for c in self.cases if c.case_id == event.row_key.value)
        self.app.push_screen(self.open_case(case))


def word_diff(old: str, new: str) -> tuple[Text, Text]:
    """Both outputs with the words that differ highlighted."""
    a, b = old.split(" "), new.split(" ")
    left, right = Text(), Text()
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        left.append(" ".join(a[a0:a1]) + " ", style="" if op == "equal" else "bold red")
        right.append(" ".join(b[b0:b1]) + " ", style="" if op == "equal" else "bold green")
    return left, right


class CaseScreen(Screen[None]):
    """One case: its output at the parent beside its output here (as in a diff), why it failed, the
    judge's reason, its variables and request, and the commit's prompt diff. What is slow to read
    arrives later through `show_details` and `show_diff`, so opening a case never waits on git."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("l", "label", "label"),
        Binding("p", "promote(False)", "promote"),
        Binding("P", "promote(True)", "promote as failure"),
    ]

    def __init__(
        self,
        set_id: str,
        case: CaseRow,
        diff_lines: list[Text] | None = None,
        *,
        label: Callable[[], object] | None = None,
        promote: Callable[[bool], object] | None = None,
    ):
        super().__init__()
        self.set_id = set_id
        self.case = case
        self.diff_lines = diff_lines
        self.label = label  # opens the labelling screen on this set's outputs, this case first
        self.promote = promote  # appends this output to the set in the working tree (as failure)

    def compose(self) -> ComposeResult:
        here = printable((self.case.here or {}).get("output") or "")
        parent = printable((self.case.parent or {}).get("output") or "")
        left, right = word_diff(parent, here)
        flip = self.case.flip.value if self.case.flip else ""
        yield Static(Text(f" {self.set_id}/{self.case.case_id}  {flip}", style="bold"))
        with Horizontal(id="outputs"):
            with VerticalScroll(classes="pane") as pane:
                pane.border_title = "parent"
                yield Static(left if self.case.parent else Text(Status.NOT_EVALUATED, style="dim"))
            with VerticalScroll(classes="pane") as pane:
                pane.border_title = "here"
                yield Static(right if self.case.here else Text(Status.NOT_EVALUATED, style="dim"))
        with VerticalScroll(id="case-notes"):
            yield Static(printable_text(self._notes()))
            yield Static(Text("history: reading…", style="dim"), id="case-history")
            yield Static(Text("variables and request: reading…", style="dim"), id="case-details")
            yield Static(self._diff_text(), id="case-diff")
        yield Footer()

    def action_label(self) -> None:
        if self.label is not None:
            self.label()

    def action_promote(self, as_failure: bool) -> None:
        if self.promote is not None:
            self.promote(as_failure)

    def _notes(self) -> Text:
        notes = Text()
        for line in failed_assertions(self.case.here):
            notes.append(line + "\n", style="red")
        answered = answered_by(
            (self.case.here or {}).get("tier"), (self.case.here or {}).get("route")
        )
        if answered:
            notes.append(answered + "\n", style="cyan")
        if self.case.here and self.case.here.get("judge_reason"):
            notes.append(f"judge: {self.case.here['judge_reason']}\n", style="cyan")
        if self.case.here and self.case.here.get("error"):
            notes.append(f"{self.case.here['status']}: {self.case.here['error']}\n", style="yellow")
        for side, row in (("here", self.case.here), ("parent", self.case.parent)):
            if row and row.get("noted"):
                notes.append(
                    f"{side}: {row['status']}, from a git note (CI's run): no output in this clone\n",
                    style="dim",
                )
        return notes

    def _diff_text(self) -> Text:
        if self.diff_lines is None:
            return Text("prompt diff: computing…", style="dim")
        return Text("\n").join(self.diff_lines)

    def show_diff(self, lines: list[Text]) -> None:
        self.diff_lines = lines
        self.query_one("#case-diff", Static).update(self._diff_text())

    def show_history(self, strip: Text) -> None:
        self.query_one("#case-history", Static).update(strip)

    def show_details(self, variables: dict | None, request: CaseRequest | None) -> None:
        text = Text()
        if variables is not None:
            text.append("variables\n", style="bold")
            for key, value in variables.items():
                text.append(f"  {key}: ", style="cyan")
                text.append(f"{printable(str(value))}\n")
        if request is not None:
            text.append("request\n", style="bold")
            if request.system:
                text.append("  system:\n", style="magenta")
                text.append(_indent(printable(request.system)) + "\n")
            for role, content in request.messages:
                text.append(f"  {role}:\n", style="magenta")
                text.append(_indent(printable(content)) + "\n")
        if not text:
            text = Text("no variables or recorded request for this case", style="dim")
        self.query_one("#case-details", Static).update(text)


STRIP_MARKS = {Status.PASSED: ("✓", "green"), Status.FAILED: ("✗", "red")}


def history_strip(marks: list[CaseMark], here_sha: str) -> Text:
    """One mark per commit that changed the case's set, oldest first (this commit's underlined),
    and where it went from pass to fail or back, as `promptvc blame` lists them."""
    strip = Text("history  ", style="bold")
    before: CaseMark | None = None
    flips = []
    for mark in marks:
        symbol, style = STRIP_MARKS.get(mark.status, ("·", "dim"))
        strip.append(symbol, style=f"{style} underline" if mark.commit.sha == here_sha else style)
        if mark.status in STRIP_MARKS:
            if before is not None and before.status != mark.status:
                flips.append(f"{before.verdict}→{mark.verdict} at {mark.commit.short}")
            before = mark
    if not marks:
        strip.append("not in this history", style="dim")
    if flips:
        strip.append("  " + ", ".join(flips[-3:]), style="dim")
    return strip


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class DiffScreen(Screen[None]):
    """The commit's prompt diff; computed in a worker, so the screen opens at once."""

    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, lines: list[Text] | None = None):
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._text())
        yield Footer()

    def _text(self) -> Text:
        return (
            Text("computing the diff…", style="dim")
            if self.lines is None
            else Text("\n").join(self.lines)
        )

    def show_diff(self, lines: list[Text]) -> None:
        self.lines = lines
        self.query_one(Static).update(self._text())


KEYS = """\
 enter    open the selected commit / set / case
 escape   back
 l        in a case: label the set's outputs by hand (for judge calibrate)
 p / P    in a case: promote its output here into the set's file (P: as a failure)
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
