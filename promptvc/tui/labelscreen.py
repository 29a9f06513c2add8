"""The labelling screen: a person scores a set's stored outputs 1-5 against their rubric. The
judge's verdict stays hidden until the person has scored (so it cannot anchor them), then shows
beside that label. `promptvc label SET` runs it alone; the TUI's case view opens it with `l`."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from promptvc.labelling import LabelItem, LabelSession
from promptvc.views.terminal import printable
from promptvc.wording import plural


class LabelScreen(Screen[int]):
    """Dismissed with how many labels the session kept."""

    AUTO_FOCUS = "#label-output"
    BINDINGS = [
        Binding("1", "score(1)", "score", key_display="1-5"),
        *(Binding(str(n), f"score({n})", show=False) for n in range(2, 6)),
        Binding("n", "note", "note"),
        Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"),
        Binding("q", "close", "quit"),
    ]

    def __init__(self, session: LabelSession):
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Static(id="label-title")
        with VerticalScroll(id="label-case"):
            yield Static(id="label-vars")
        yield Static(id="label-rubric")
        with VerticalScroll(id="label-output") as output:
            output.border_title = "output"
            yield Static(id="label-output-text")
        yield Static(id="label-judge")
        yield Static(id="label-last")
        yield Input(
            placeholder="a note for this label (enter to keep, escape to drop)", id="label-note"
        )
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    # -- what is shown ------------------------------------------------------------------

    def show(self) -> None:
        session, item = self.session, self.session.current
        work = session.work
        kept = len(session.written)
        title = f" {work.set_id} · "
        title += (
            f"output {session.position + 1} of {len(work.items)}"
            if item
            else f"all {plural(len(work.items), 'output')} walked"
        )
        title += f" · {plural(kept, 'label')} kept"
        if work.already:
            title += f" · {work.already} labelled before"
        self.query_one("#label-title", Static).update(Text(title, style="bold"))
        self.query_one("#label-case").border_title = f"case {item.case}" if item else work.source
        self.query_one("#label-vars", Static).update(_vars_text(item) if item else "")
        self.query_one("#label-rubric", Static).update(_rubric_text(item) if item else "")
        self.query_one("#label-output-text", Static).update(
            printable(item.output)
            if item
            else Text(f"written to {work.path}. u takes back the last label, q quits.", style="dim")
        )
        note = f"  note: {session.note}" if session.note else ""
        self.query_one("#label-judge", Static).update(
            Text(
                "judge: hidden until you score, so that it does not anchor you" + note, style="dim"
            )
            if item
            else ""
        )
        self.query_one("#label-last", Static).update(self._last_text())

    def _last_text(self) -> Text:
        last = self.session.last
        if last is None:
            return Text("")
        item, label = last
        text = Text(f"last: {item.case}  you {label.score}", style="bold")
        if item.judge is None:
            text.append("  · the judge's verdict on this output is not stored", style="dim")
        else:
            score, reason = item.judge
            agree = "green" if abs(score - label.score) <= 1 else "red"
            text.append(f"  · judge {score}", style=f"bold {agree}")
            text.append(f"  {printable(reason)}", style="dim")
        return text

    # -- keys ---------------------------------------------------------------------------

    def action_score(self, value: int) -> None:
        if self.session.current is None:
            return
        self.session.score(value)
        self.show()

    def action_skip(self) -> None:
        self.session.skip()
        self.show()

    def action_undo(self) -> None:
        label = self.session.undo()
        if label is None:
            self.notify("nothing to undo in this session")
        self.show()

    def action_note(self) -> None:
        if self.session.current is None:
            return
        box = self.query_one("#label-note", Input)
        box.value = self.session.note
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.session.note = event.value.strip()
        self._close_note()
        event.stop()

    def on_key(self, event) -> None:
        if event.key != "escape":
            return
        event.stop()
        if self.query_one("#label-note", Input).has_class("visible"):
            self._close_note()  # the note is dropped, the label not yet written
        else:
            self.action_close()

    def _close_note(self) -> None:
        box = self.query_one("#label-note", Input)
        box.remove_class("visible")
        self.query_one("#label-output").focus()
        self.show()

    def action_close(self) -> None:
        self.dismiss(len(self.session.written))


def _vars_text(item: LabelItem) -> Text:
    text = Text()
    for key, value in item.vars.items():
        text.append(f"{key}: ", style="cyan")
        text.append(printable(str(value)) + "\n")
    return text


def _rubric_text(item: LabelItem) -> Text:
    text = Text(" rubric  ", style="bold magenta")
    text.append(printable(item.rubric))
    return text


class LabelApp(App[int]):
    """`promptvc label SET`: the labelling screen on its own; returns how many labels were kept."""

    CSS_PATH = "app.tcss"
    TITLE = "promptvc label"

    def __init__(self, session: LabelSession):
        super().__init__()
        self.session = session

    def on_mount(self) -> None:
        self.push_screen(LabelScreen(self.session), self.exit)
