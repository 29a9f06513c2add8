"""`promptvc tui`: commits that touched prompts, their scores, and the drill-down."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, ProgressBar, Sparkline, Static

from promptvc.errors import PromptvcError
from promptvc.evals.scoring import Status
from promptvc.history import CommitPoint
from promptvc.tui.labelscreen import LabelScreen
from promptvc.tui.model import CaseRequest, CaseRow, HistoryBrowser, SetRow
from promptvc.tui.screens import (
    CaseScreen,
    ConfirmScreen,
    DiffScreen,
    KeysScreen,
    SetScreen,
    delta_cell,
    history_strip,
    score_cell,
)
from promptvc.views.comparison import evidence_text
from promptvc.views.eval import set_name
from promptvc.wording import money, plural

REFRESH_SECONDS = 5.0
DIFFS_KEPT = 8  # a diff holds rendered text; the TUI may stay open all day


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
        self._db_stamp: tuple[int, ...] | None = None
        self._diffs: OrderedDict[str, list[Text]] = OrderedDict()  # by commit sha, the newest kept

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="title-bar"):
            yield Static(id="title")
            yield Sparkline([], id="spark")
            yield Static("overall", id="spark-label")
        with Horizontal(id="body"):
            commits: DataTable[str | Text] = DataTable(
                id="commits", cursor_type="row", zebra_stripes=True
            )
            commits.border_title = "commits"
            yield commits
            with Vertical(id="detail"):
                yield DataTable(id="sets", cursor_type="row")
                yield Static(id="flips")
                yield Static(id="hint")
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="progress", show_eta=False)
        yield Input(
            placeholder="filter by prompt or set name (enter to apply, escape to clear)",
            id="filter",
        )
        yield Footer()

    def on_mount(self) -> None:
        commits = self.query_one("#commits", DataTable)
        # The subject goes last: at 80 columns it is what gets cut, never the scores.
        commits.add_columns("commit", "date", "score", "Δ", "author", "subject")
        self.query_one("#sets", DataTable).add_columns(
            "set", "parent", "here", "Δ", "cases", "cost", "provider"
        )
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
        selected = self.selected()
        table.clear()
        # The filter narrows the scores too: a commit's score is over the sets the filter keeps.
        self.shown = [narrowed for p in self.points if (narrowed := self._narrowed(p)) is not None]
        for point in self.shown:
            date = datetime.fromtimestamp(point.commit.timestamp, UTC).strftime("%m-%d")
            overall = point.overall
            # A commit whose changed sets were not evaluated has no delta worth showing.
            delta = (
                Text("partial", style="yellow")
                if overall is not None and point.partial
                else delta_cell(point.overall_delta)
            )
            table.add_row(
                Text(point.commit.short, style="yellow"),
                date,
                score_cell(overall),
                delta,
                point.commit.author[:10],
                point.commit.subject[:40],
                key=point.commit.sha,
            )
        scores = [p.overall for p in reversed(self.shown) if p.overall is not None]
        self.query_one("#spark", Sparkline).data = scores
        self.query_one("#spark-label", Static).update("overall" if scores else "")
        branch = self.browser.branch
        title = f"promptvc · {branch} · {plural(len(self.points), 'commit')} touching prompts"
        if self.filter_text:
            title += f" · filter: {self.filter_text}"
        self.query_one("#title", Static).update(title)
        if self.shown:
            # r and a live refresh keep the selected commit, wherever new commits put it.
            shas = [p.commit.sha for p in self.shown]
            row = shas.index(selected.commit.sha) if selected and selected.commit.sha in shas else 0
            table.move_cursor(row=row)
            self.show_commit(self.shown[table.cursor_row])
        else:
            self.show_empty()

    def _narrowed(self, point: CommitPoint) -> CommitPoint | None:
        """The commit with only the sets the filter keeps; None when it keeps none."""
        if not self.filter_text:
            return point
        needle = self.filter_text.lower()

        def kept(sets: dict) -> dict:
            return {
                k: s
                for k, s in sets.items()
                if needle in s.set_id.lower() or needle in s.prompt.lower()
            }

        sets, parent = kept(point.sets), kept(point.parent)
        return replace(point, sets=sets, parent=parent) if sets or parent else None

    def show_empty(self) -> None:
        self.query_one("#sets", DataTable).clear()
        self.query_one("#flips", Static).update("")
        if self.filter_text:
            message = (
                f"no commit matches '{self.filter_text}' — press / and escape to clear the filter"
            )
        else:
            message = (
                "no commits touch prompts/, evals/ or promptvc.toml yet — run `promptvc init`, "
                "commit, then `promptvc eval`"
            )
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
            failed = Text(" ✗", style="red") if here and here.status == Status.FAILED else Text("")
            cost = money(here.cost) if here and here.cost is not None else ""
            if here and here.cache:  # what the prompt cache saved on the set's answers
                cost += f" (cache saved {money(here.cache.saved)})"
            table.add_row(
                set_name(row.set_id, row.safety),
                score_cell(parent.score if parent else None),
                score_cell(here.score if here else None),
                delta_cell(row.delta),
                Text(cases) + failed,
                cost,
                (here.provider_label if here else "") or "",
                key=row.set_id,
            )
        flips = [
            f"{r.set_id}/{case_id} {d.value}" for r in self.set_rows for case_id, d in r.flipped
        ]
        alpha = self.browser.ws.settings.gate.alpha
        lines = [
            Text(f"{r.set_id}  ") + evidence_text(r.evidence, alpha)
            for r in self.set_rows
            if r.evidence is not None and r.evidence.first is not None
        ]
        lines += [  # a routed set: which tier answered how many of its cases
            Text(f"{r.set_id}  {r.here.route.text}", style="dim")
            for r in self.set_rows
            if r.here and r.here.route
        ]
        if flips:
            lines.append(Text("flipped: " + ", ".join(flips), style="yellow"))
        self.query_one("#flips", Static).update(
            lines[0] if len(lines) == 1 else Text("\n").join(lines) if lines else ""
        )
        evaluated = any(r.here and r.here.evaluated for r in self.set_rows)
        self.query_one("#hint", Static).update(
            ""
            if evaluated
            else "not evaluated here yet — press e (or run `promptvc eval --rev "
            f"{point.commit.short}`)"
        )

    def _row_matches(self, row: SetRow) -> bool:
        needle = self.filter_text.lower()
        return not needle or needle in row.set_id.lower() or needle in row.prompt.lower()

    # -- events and actions ---------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (
            event.data_table.id == "commits"
            and self.shown
            and 0 <= event.cursor_row < len(self.shown)
        ):
            self.show_commit(self.shown[event.cursor_row])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "commits":
            self.query_one("#sets", DataTable).focus()
        elif event.data_table.id == "sets" and event.row_key.value is not None:
            self.open_set(event.row_key.value)

    def open_set(self, set_id: str) -> None:
        point = self.selected()
        row = next((r for r in self.set_rows if r.set_id == set_id), None)
        if point is None or row is None:
            return
        cases = self.browser.case_rows(row.here, row.parent)
        self.push_screen(
            SetScreen(
                row,
                cases,
                f"{point.commit.short} {point.commit.subject}",
                open_case=lambda case: self.case_screen(point, set_id, case),
            )
        )

    def case_screen(self, point: CommitPoint, set_id: str, case: CaseRow) -> CaseScreen:
        screen = CaseScreen(
            set_id,
            case,
            self._diffs.get(point.commit.sha),
            label=lambda: self.label_worker(point, set_id, case.case_id),
            promote=lambda as_failure: self.promote_worker(point, set_id, case, as_failure),
        )
        self.case_details_worker(screen, point, set_id, case, self.browser.case_request(case.here))
        self.case_history_worker(screen, point, set_id, case.case_id)
        if screen.diff_lines is None:
            self.diff_worker(point, screen)
        return screen

    def action_diff(self) -> None:
        point = self.selected()
        if point is None:
            return
        screen = DiffScreen(self._diffs.get(point.commit.sha))
        self.push_screen(screen)
        if screen.lines is None:
            self.diff_worker(point, screen)

    @work(thread=True, group="diff")
    def diff_worker(self, point: CommitPoint, screen: DiffScreen | CaseScreen) -> None:
        """The prompt diff renders every affected case at two commits: never on the UI thread."""
        from promptvc.views.diff import report_lines

        try:
            lines = report_lines(self.browser.diff(point))
        except PromptvcError as exc:
            lines = [Text(f"cannot diff {point.commit.short}: {exc}", style="red")]
        self.call_from_thread(self._diff_ready, point.commit.sha, lines, screen)

    def _diff_ready(self, sha: str, lines: list[Text], screen: DiffScreen | CaseScreen) -> None:
        self._diffs[sha] = lines
        while len(self._diffs) > DIFFS_KEPT:
            self._diffs.popitem(last=False)
        if screen.is_attached:
            screen.show_diff(lines)

    @work(thread=True, group="case")
    def case_details_worker(
        self,
        screen: CaseScreen,
        point: CommitPoint,
        set_id: str,
        case: CaseRow,
        request: CaseRequest | None,
    ) -> None:
        """The case's variables come from its golden set at the commit: a read from git."""
        try:
            variables = self.browser.case_vars(point, set_id, case.case_id)
        except PromptvcError:
            variables = None
        self.call_from_thread(self._details_ready, screen, variables, request)

    def _details_ready(
        self, screen: CaseScreen, variables: dict | None, request: CaseRequest | None
    ) -> None:
        if screen.is_attached:
            screen.show_details(variables, request)

    @work(thread=True, group="history")
    def case_history_worker(
        self, screen: CaseScreen, point: CommitPoint, set_id: str, case_id: str
    ) -> None:
        """The case along history: the store's (else the notes') statuses under each set key the
        history met."""
        try:
            strip = history_strip(self.browser.case_marks(set_id, case_id), point.commit.sha)
        except PromptvcError as exc:
            strip = Text(f"history: {exc}", style="dim")
        self.call_from_thread(self._history_ready, screen, strip)

    def _history_ready(self, screen: CaseScreen, strip: Text) -> None:
        if screen.is_attached:
            screen.show_history(strip)

    @work(thread=True, group="label")
    def label_worker(self, point: CommitPoint, set_id: str, case_id: str) -> None:
        """The set's outputs at the commit, to label by hand: read from git and the store."""
        row = next((r for r in self.set_rows if r.set_id == set_id), None)
        set_key = row.here.set_key if row and row.here else None
        try:
            session = self.browser.label_session(point, set_id, set_key, case_id)
        except PromptvcError as exc:
            self.call_from_thread(self.notify, str(exc), severity="warning")
            return
        self.call_from_thread(self.push_screen, LabelScreen(session))

    @work(thread=True, group="promote", exclusive=True)
    def promote_worker(
        self, point: CommitPoint, set_id: str, case: CaseRow, as_failure: bool
    ) -> None:
        """The stored output into the working tree's golden file: reads git, writes one file."""
        try:
            said = self.browser.promote_case(point, set_id, case, as_failure=as_failure)
        except PromptvcError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, said)

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
        self.query_one("#hint", Static).update(
            f"planning {point.commit.short}: rendering its cases…"
        )
        self.estimate_worker(point)

    @work(thread=True, exclusive=True, group="estimate")
    def estimate_worker(self, point: CommitPoint) -> None:
        """Planning renders every case at two commits; the estimate then decides whether to ask."""
        try:
            requests, cost = self.browser.cost_to_evaluate(point)
        except PromptvcError as exc:
            self.call_from_thread(
                self.evaluation_done, f"could not plan {point.commit.short}: {exc}"
            )
            return
        self.call_from_thread(self.confirm_evaluation, point, requests, cost)

    def confirm_evaluation(self, point: CommitPoint, requests: int, cost: float) -> None:
        cap = self.browser.ws.settings.spend_cap
        if cost > cap:
            question = (
                f"Evaluating {point.commit.short} and its parent sends {plural(requests, 'request')}, "
                f"est. {money(cost)} — above the spend cap ({money(cap)}). Evaluate?"
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.start_evaluation(point, requests, cost)

            self.push_screen(ConfirmScreen(question), answered)
        else:
            self.start_evaluation(point, requests, cost)

    def start_evaluation(self, point: CommitPoint, requests: int, cost: float) -> None:
        self.query_one("#progress-row").add_class("visible")
        self.query_one("#hint", Static).update(
            f"evaluating {point.commit.short}: {plural(requests, 'request')} to send, est. {money(cost)}…"
        )
        self.evaluate_worker(point)

    @work(thread=True, exclusive=True)
    def evaluate_worker(self, point: CommitPoint) -> None:
        bar = self.query_one("#progress", ProgressBar)
        try:
            self.browser.evaluate(
                point,
                lambda done, total: self.call_from_thread(bar.update, total=total, progress=done),
            )
            message = f"evaluated {point.commit.short}"
        except Exception as exc:  # shown in the UI; the store keeps whatever finished
            message = f"could not evaluate: {exc}"
        self.call_from_thread(self.evaluation_done, message)

    def evaluation_done(self, message: str) -> None:
        self.query_one("#progress-row").remove_class("visible")
        self.load()
        self.query_one("#hint", Static).update(message)
        self.notify(message)
