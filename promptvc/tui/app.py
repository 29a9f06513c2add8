"""`promptvc tui`: commits that touched prompts, their scores, and the drill-down."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, ProgressBar, Sparkline, Static

from promptvc.tui.model import HistoryBrowser, SetRow
from promptvc.history import CommitPoint
from promptvc.tui.screens import (ConfirmScreen, DiffScreen, KeysScreen, SetScreen, delta_cell, score_cell)

REFRESH_SECONDS = 5.0


class PromptvcApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "promptvc"
    AUTO_FOCUS = "#commits"
    BINDINGS = [
        Binding("d", "diff", "diff"),
        Binding("e", "evaluate", "evaluate"),
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("r", "reload", "reload"),
        Binding("question_mark", "keys", "keys", key_display="?"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, browser: HistoryBrowser, *, live_refresh: bool = True):
        super().__init__()
        self.browser = browser
        self.points: list[CommitPoint] = []
        self.shown: list[CommitPoint] = []
        self.set_rows: list[SetRow] = []
        self.filter_text = ""
        self.live_refresh = live_refresh
        self._db_stamp = None

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="title-bar"):
            yield Static(id="title")
            yield Sparkline([], id="spark")
            yield Static("overall", id="spark-label")
        with Horizontal(id="body"):
            commits = DataTable(id="commits", cursor_type="row", zebra_stripes=True)
            commits.border_title = "commits"
            yield commits
            with Vertical(id="detail"):
                yield DataTable(id="sets", cursor_type="row")
                yield Static(id="flips")
                yield Static(id="hint")
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="progress", show_eta=False)
        yield Input(placeholder="filter by prompt or set name (enter to apply, escape to clear)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        commits = self.query_one("#commits", DataTable)
        commits.add_columns("commit", "date", "author", "subject", "score", "Δ")
        self.query_one("#sets", DataTable).add_columns("set", "here", "parent", "Δ", "cases", "cost", "provider")
        self.load()
        if self.live_refresh:
            self.set_interval(REFRESH_SECONDS, self.refresh_if_changed)

    # -- data ---------------------------------------------------------------------------

    def load(self) -> None:
        self.points = self.browser.commits()
        for warning in self.browser.warnings:
            self.notify(warning, severity="warning")
        self._db_stamp = self._stamp()
        self.fill_commits()

    def _stamp(self):
        path = Path(self.browser.ws.db_path)
        wal = path.with_name(path.name + "-wal")
        return tuple(os.stat(p).st_mtime_ns if p.exists() else 0 for p in (path, wal))

    def refresh_if_changed(self) -> None:
        """Another process (a hook, an import) may have added results; reading never blocks it (WAL)."""
        if self._stamp() != self._db_stamp:
            self.action_reload()

    def fill_commits(self) -> None:
        table = self.query_one("#commits", DataTable)
        keep = table.cursor_row
        table.clear()
        self.shown = [p for p in self.points if self._matches(p)]
        for point in self.shown:
            date = datetime.fromtimestamp(point.commit.timestamp, timezone.utc).strftime("%m-%d")
            overall = point.overall
            delta = overall - point.parent_overall if overall is not None and point.parent_overall is not None else None
            table.add_row(Text(point.commit.short, style="yellow"), date, point.commit.author[:10],
                          point.commit.subject[:26], score_cell(overall), delta_cell(delta), key=point.commit.sha)
        scores = [p.overall for p in reversed(self.points) if p.overall is not None]
        self.query_one("#spark", Sparkline).data = scores or [0.0]
        branch = self.browser.branch
        title = f"promptvc · {branch} · {len(self.points)} commits touching prompts"
        if self.filter_text:
            title += f" · filter: {self.filter_text}"
        self.query_one("#title", Static).update(title)
        if self.shown:
            table.move_cursor(row=min(max(keep, 0), len(self.shown) - 1))
            self.show_commit(self.shown[table.cursor_row])
        else:
            self.show_empty()

    def _matches(self, point: CommitPoint) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in s.set_id.lower() or needle in s.prompt.lower()
                   for s in (*point.sets.values(), *point.parent.values()))

    def show_empty(self) -> None:
        self.query_one("#sets", DataTable).clear()
        self.query_one("#flips", Static).update("")
        if self.filter_text:
            message = f"no commit matches '{self.filter_text}' — press / and escape to clear the filter"
        else:
            message = ("no commits touch prompts/, evals/ or promptvc.toml yet — run `promptvc init`, "
                       "commit, then `promptvc eval`")
        self.query_one("#hint", Static).update(message)

    def selected(self) -> CommitPoint | None:
        table = self.query_one("#commits", DataTable)
        if not self.shown or table.cursor_row < 0:
            return None
        return self.shown[min(table.cursor_row, len(self.shown) - 1)]

    def show_commit(self, point: CommitPoint) -> None:
        self.query_one("#detail").border_title = f"{point.commit.short}  {point.commit.subject}"
        self.set_rows = [r for r in self.browser.set_rows(point) if self._row_matches(r)]
        table = self.query_one("#sets", DataTable)
        table.clear()
        for row in self.set_rows:
            here, parent = row.here, row.parent
            cases = f"{here.passed}/{here.cases}" if here and here.evaluated else "—"
            failed = Text(" ✗", style="red") if here and here.status == "failed" else Text("")
            cost = f"${here.cost:.4f}" if here and here.cost is not None else ""
            table.add_row(row.set_id, score_cell(here.score if here else None),
                          score_cell(parent.score if parent else None), delta_cell(row.delta),
                          Text(cases) + failed, cost, (here.provider if here else "") or "", key=row.set_id)
        flips = [f"{r.set_id}/{f}" for r in self.set_rows for f in r.flipped]
        self.query_one("#flips", Static).update(Text("flipped: " + ", ".join(flips), style="yellow") if flips else "")
        evaluated = any(r.here and r.here.evaluated for r in self.set_rows)
        self.query_one("#hint", Static).update(
            "" if evaluated else "not evaluated here yet — press e (or run `promptvc eval --rev "
                                 f"{point.commit.short}`)")

    def _row_matches(self, row: SetRow) -> bool:
        needle = self.filter_text.lower()
        return not needle or needle in row.set_id.lower() or needle in row.prompt.lower()

    # -- events and actions ---------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "commits" and self.shown and 0 <= event.cursor_row < len(self.shown):
            self.show_commit(self.shown[event.cursor_row])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "commits":
            self.query_one("#sets", DataTable).focus()
        elif event.data_table.id == "sets":
            self.open_set(event.row_key.value)

    def open_set(self, set_id: str) -> None:
        point = self.selected()
        row = next((r for r in self.set_rows if r.set_id == set_id), None)
        if point is None or row is None:
            return
        cases = self.browser.case_rows(row.here, row.parent)
        self.push_screen(SetScreen(row, cases, f"{point.commit.short} {point.commit.subject}"))

    def diff_text_for_selected(self) -> list[Text]:
        point = self.selected()
        return self.browser.diff_lines(point) if point else []

    def action_diff(self) -> None:
        point = self.selected()
        if point is not None:
            self.push_screen(DiffScreen(self.browser.diff_lines(point)))

    def action_keys(self) -> None:
        self.push_screen(KeysScreen())

    def action_reload(self) -> None:
        self.load()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.value = self.filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        event.input.remove_class("visible")
        self.fill_commits()
        self.query_one("#commits", DataTable).focus()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_class("visible"):
            box.remove_class("visible")
            self.filter_text = ""
            self.fill_commits()
            self.query_one("#commits", DataTable).focus()
            event.stop()

    def action_evaluate(self) -> None:
        point = self.selected()
        if point is None:
            return
        requests, cost = self.browser.cost_to_evaluate(point)
        cap = self.browser.ws.settings.spend_cap
        if cost > cap:
            question = (f"Evaluating {point.commit.short} and its parent sends {requests} requests, "
                        f"est. ${cost:.4f} — above the spend cap (${cap:.2f}). Evaluate?")
            self.push_screen(ConfirmScreen(question),
                             lambda yes: yes and self.start_evaluation(point, requests, cost))
        else:
            self.start_evaluation(point, requests, cost)

    def start_evaluation(self, point: CommitPoint, requests: int, cost: float) -> None:
        self.query_one("#progress-row").add_class("visible")
        self.query_one("#hint", Static).update(
            f"evaluating {point.commit.short}: {requests} requests to send, est. ${cost:.4f}…")
        self.evaluate_worker(point)

    @work(thread=True, exclusive=True)
    def evaluate_worker(self, point: CommitPoint) -> None:
        bar = self.query_one("#progress", ProgressBar)
        try:
            self.browser.evaluate(point, lambda done, total: self.call_from_thread(bar.update, total=total,
                                                                                   progress=done))
            message = f"evaluated {point.commit.short}"
        except Exception as exc:  # shown in the UI; the store keeps whatever finished
            message = f"could not evaluate: {exc}"
        self.call_from_thread(self.evaluation_done, message)

    def evaluation_done(self, message: str) -> None:
        self.query_one("#progress-row").remove_class("visible")
        self.load()
        self.query_one("#hint", Static).update(message)
        self.notify(message)
