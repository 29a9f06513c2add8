"""The results store: `.promptvc/promptvc.db`, SQLite through sqlite-utils.

WAL so readers (the TUI) never block the writer; a busy timeout and BEGIN IMMEDIATE
so two writers queue instead of failing; INSERT OR IGNORE / upserts so two processes
writing the same content key agree. One Store (one connection) per thread.

Whatever goes wrong with the file (read-only, damaged, a directory, written by a newer
promptvc, a full disk, a writer holding the lock too long) is one line naming the file and
what to do (promptvc.storefaults): every public method runs inside `faults`. A command that only reads opens it
with `Store.for_reading`, which falls back to a read-only connection where it cannot write.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from promptvc import __version__
from promptvc.clock import now
from promptvc.errors import UserError
from promptvc.sqlitedb import chunks, sqlite_utils
from promptvc.storefaults import StoreReadOnly, faults, guarded, kind
from promptvc.storeschema import (
    CALIBRATION_COLUMNS,
    CASE_SCORE_COLUMNS,
    COMPARISON_COLUMNS,
    RESPONSE_COLUMNS,
    RESULT_COLUMNS,
    SET_SCORE_COLUMNS,
    TOKEN_COUNT_COLUMNS,
    migrations,
    refuse_newer,
)

BUSY_TIMEOUT = 30.0  # seconds a writer waits for another writer's lock before giving up
BATCH = 500  # keys per `IN (...)` query, well under SQLite's limit on bound parameters


def _enable_wal(conn: sqlite3.Connection, tries: int = 100) -> None:
    """WAL, set once per file. The switch takes the file to itself and SQLite does not wait for it
    (no busy handler), so two first runs on a new database retry it briefly instead of failing."""
    for attempt in range(tries):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


class Store:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self.busy_timeout = BUSY_TIMEOUT
        with faults(path, self.busy_timeout):
            if path.is_dir():
                raise UserError(
                    "is a directory, not the database file; remove it or set [paths] db in "
                    "promptvc.toml to a file",
                    path=str(path),
                )
            self.db = self._open_readonly(path) if readonly else self._open(path)

    @classmethod
    def for_reading(cls, path: Path) -> Store:
        """For a command that only reads (`log`, `responses export`): read-write where the file can be
        written, so an older schema is upgraded and the commit -> set-key cache fills; read-only
        where it cannot."""
        try:
            return cls(path)
        except StoreReadOnly:
            return cls(path, readonly=True)

    @staticmethod
    def _open(path: Path) -> sqlite_utils.Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        db = sqlite_utils.Database(conn, execute_plugins=False)
        refuse_newer(db, path)
        _enable_wal(db.conn)
        db.conn.execute("PRAGMA synchronous = NORMAL")
        if migrations.pending(db):
            conn.execute("BEGIN IMMEDIATE")  # two first runs must not migrate at once
            try:
                if migrations.pending(db):
                    migrations.apply(db)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return db

    @staticmethod
    def _open_readonly(path: Path) -> sqlite_utils.Database:
        if not path.exists():  # nothing stored yet: an empty store, and no file created
            db = sqlite_utils.Database(memory=True, execute_plugins=False)
            migrations.apply(db)
            return db
        uri = path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # WAL needs a -shm file beside the database; in a read-only folder without one, read the
            # file as it stands, which holds everything unless a write-ahead log is left over.
            wal = path.with_name(path.name + "-wal")
            if wal.exists() and wal.stat().st_size:
                raise
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        refuse_newer(db, path)
        if not migrations.applied(db) and db.table_names():
            raise UserError("is not a promptvc database (it holds other tables)", path=str(path))
        if migrations.pending(db):
            raise StoreReadOnly(
                "is read-only and was written by an older promptvc; make it writable once so "
                "that it can be upgraded",
                path=str(path),
            )
        return db

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    @contextlib.contextmanager
    def immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk): the cause is what matters.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- runs ---------------------------------------------------------------------------

    @guarded
    def start_run(self, snapshot: str, commit_sha: str | None, provider: str, command: str) -> int:
        with self.immediate() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, complete, snapshot, commit_sha, provider, command, "
                "promptvc_version) VALUES (?, 0, ?, ?, ?, ?, ?)",
                (now(), snapshot, commit_sha, provider, command, __version__),
            )
            assert cursor.lastrowid is not None  # set by every INSERT into a rowid table
            return cursor.lastrowid

    @guarded
    def finish_run(
        self,
        run_id: int,
        totals: dict,
        set_scores: list[dict],
        case_scores: list[dict] | None = None,
    ) -> None:
        """Set and case scores and the run's completion land together, last."""
        with self.immediate() as conn:
            _upsert(
                conn,
                "set_scores",
                SET_SCORE_COLUMNS,
                ("set_key",),
                [{**s, "run_id": run_id} for s in set_scores],
            )
            _upsert(
                conn,
                "case_scores",
                CASE_SCORE_COLUMNS,
                ("set_key", "case_id"),
                [{**c, "run_id": run_id} for c in case_scores or []],
            )
            assignments = ", ".join(f"{k} = ?" for k in totals)
            conn.execute(
                f"UPDATE runs SET {assignments}, finished_at = ?, complete = 1 WHERE id = ?",
                (*totals.values(), now(), run_id),
            )

    # -- results ------------------------------------------------------------------------

    @guarded
    def save_results(self, run_id: int, rows: list[dict], *, replace: bool = False) -> None:
        if rows:
            with self.immediate() as conn:
                self._save_results(conn, run_id, rows, replace)

    def _save_results(
        self, conn: sqlite3.Connection, run_id: int, rows: list[dict], replace: bool
    ) -> None:
        if rows:
            _insert_results(conn, rows, replace)
            self._link(conn, run_id, [row["key"] for row in rows])

    @guarded
    def kept_results(self, run_id: int) -> int:
        """How many finished (passed or failed) results a run has kept, reused ones included."""
        row = self.db.execute(
            "SELECT count(*) FROM run_results JOIN results ON results.key = run_results.result_key "
            "WHERE run_results.run_id = ? AND results.status IN ('passed', 'failed')",
            [run_id],
        ).fetchone()
        return int(row[0])

    @guarded
    def link_results(self, run_id: int, keys: list[str]) -> None:
        if keys:
            with self.immediate() as conn:
                self._link(conn, run_id, keys)

    @staticmethod
    def _link(conn: sqlite3.Connection, run_id: int, keys: list[str]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO run_results (run_id, result_key) VALUES (?, ?)",
            [(run_id, key) for key in keys],
        )

    @guarded
    def results(self, keys: Iterable[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for chunk in map(list, chunks(keys, BATCH)):
            query = f"SELECT * FROM results WHERE key IN ({', '.join('?' for _ in chunk)})"
            for row in self.db.query(query, chunk):
                found[row["key"]] = row
        return found

    @guarded
    def all_results(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM results"))

    @guarded
    def import_results(self, rows: list[dict]) -> None:
        """Results from another store (a CI shard's), linked to no run: content, so one already
        here is kept unless it was an error or a skip."""
        if rows:
            with self.immediate() as conn:
                _insert_results(conn, rows, replace=False)

    @guarded
    def last_run(self, *, complete: bool) -> dict | None:
        query = "SELECT * FROM runs" + (" WHERE complete = 1" if complete else "")
        rows = list(self.db.query(query + " ORDER BY id DESC LIMIT 1"))
        return rows[0] if rows else None

    @guarded
    def run_set_keys(self, run_id: int) -> set[str]:
        """The set keys of the results a run used."""
        rows = self.db.execute(
            "SELECT DISTINCT results.set_key FROM run_results JOIN results "
            "ON results.key = run_results.result_key WHERE run_results.run_id = ?",
            [run_id],
        )
        return {row[0] for row in rows.fetchall() if row[0]}

    @guarded
    def case_statuses(self, set_key: str) -> dict[str, str]:
        """{case id: status} of a set's first samples, from the covering index alone."""
        rows = self.db.execute(
            "SELECT case_id, status FROM results WHERE set_key = ? AND sample = 0", [set_key]
        )
        return dict(rows.fetchall())

    @guarded
    def results_for_set(self, set_key: str) -> list[dict]:
        return list(
            self.db.query(
                "SELECT * FROM results WHERE set_key = ? ORDER BY case_id, sample", [set_key]
            )
        )

    @guarded
    def set_scores(self, set_keys: Iterable[str]) -> dict[str, dict]:
        found = {}
        for chunk in map(list, chunks(set_keys, BATCH)):
            for row in self.db.query(
                f"SELECT * FROM set_scores WHERE set_key IN ({', '.join('?' for _ in chunk)})",
                chunk,
            ):
                found[row["set_key"]] = row
        return found

    @guarded
    def noted_set_scores(self, set_keys: Iterable[str]) -> dict[str, dict]:
        """Set scores with the promptvc version of the run that measured them (for git notes)."""
        found = {}
        for chunk in map(list, chunks(set_keys, BATCH)):
            query = (
                "SELECT set_scores.*, runs.promptvc_version FROM set_scores "
                "LEFT JOIN runs ON runs.id = set_scores.run_id "
                f"WHERE set_key IN ({', '.join('?' for _ in chunk)})"
            )
            for row in self.db.query(query, chunk):
                found[row["set_key"]] = row
        return found

    @guarded
    def case_outcomes(self, set_key: str) -> dict[str, tuple[str, float | None]]:
        """{case id: (status, score)} of a set: over its samples where the run summarised them,
        else its first sample's."""
        found = {
            case_id: (status, score)
            for case_id, status, score in self.db.execute(
                "SELECT case_id, status, score FROM results WHERE set_key = ? AND sample = 0",
                [set_key],
            )
        }
        for case_id, passed, score in self.db.execute(
            "SELECT case_id, passed, score FROM case_scores WHERE set_key = ?", [set_key]
        ):
            found[case_id] = ("passed" if passed else "failed", score)
        return found

    @guarded
    def case_scores(self, set_key: str) -> dict[str, dict]:
        """{case id: its summary over its samples} as the set's last run left it."""
        rows = self.db.query("SELECT * FROM case_scores WHERE set_key = ?", [set_key])
        return {row["case_id"]: row for row in rows}

    # -- the response cache -------------------------------------------------------------

    @guarded
    def response(self, key: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM responses WHERE key = ?", [key]))
        return rows[0] if rows else None

    @guarded
    def responses_for(self, keys: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for chunk in map(list, chunks(keys, BATCH)):
            for row in self.db.query(
                f"SELECT * FROM responses WHERE key IN ({', '.join('?' for _ in chunk)})", chunk
            ):
                found[row["key"]] = row
        return found

    @guarded
    def responses_asked(self, ask_keys: list[str]) -> dict[str, dict]:
        """Recordings by what was asked; of several (other endpoints), the newest."""
        found: dict[str, dict] = {}
        for chunk in map(list, chunks(ask_keys, BATCH)):
            query = (
                f"SELECT * FROM responses WHERE ask_key IN ({', '.join('?' for _ in chunk)}) "
                "ORDER BY created_at"
            )
            for row in self.db.query(query, chunk):
                found[row["ask_key"]] = row
        return found

    @guarded
    def save_responses(self, rows: list[dict], *, replace: bool = False) -> None:
        if rows:
            with self.immediate() as conn:
                if replace:  # --no-cache: the fresh answer replaces the recorded one
                    _upsert(conn, "responses", RESPONSE_COLUMNS, ("key",), rows)
                else:
                    _insert_or_ignore(conn, "responses", RESPONSE_COLUMNS, rows)

    @guarded
    def export_responses(self) -> Iterator[dict]:
        yield from self.db.query("SELECT * FROM responses ORDER BY key")

    # -- commit -> set keys ---------------------------------------------------------------

    @guarded
    def commit_sets(self, shas: list[str], endpoint: str) -> dict[str, list[dict]]:
        """The set keys met at these commits; a commit with no golden set has one row with set_id ''."""
        found: dict[str, list[dict]] = {}
        for chunk in map(list, chunks(shas, BATCH)):
            query = (
                "SELECT commit_sha, set_id, set_key, prompt FROM commit_sets "
                f"WHERE endpoint = ? AND commit_sha IN ({', '.join('?' for _ in chunk)})"
            )
            for sha, set_id, set_key, prompt in self.db.conn.execute(query, [endpoint, *chunk]):
                found.setdefault(sha, []).append(
                    {"set_id": set_id, "set_key": set_key, "prompt": prompt}
                )
        return found

    @guarded
    def save_commit_sets(self, rows: list[dict]) -> None:
        """A cache: skipped when the database cannot be written now (read-only, or another writer
        holds the lock), so history still shows, only slower next time."""
        if not rows or self.readonly:
            return
        self.db.conn.execute("PRAGMA busy_timeout = 250")
        try:
            with self.immediate() as conn:
                _insert_or_ignore(
                    conn,
                    "commit_sets",
                    ("commit_sha", "set_id", "endpoint", "set_key", "prompt", "path"),
                    rows,
                )
        except sqlite3.OperationalError as exc:
            if kind(exc) not in ("busy", "readonly", "cantopen"):
                raise
            self.readonly = kind(exc) != "busy"
        finally:
            self.db.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    @guarded
    def save_comparisons(self, rows: list[dict], *, replace: bool = True) -> None:
        """The figures of each set compared (by default the latest wins: a check that re-sampled
        says more than a first stage)."""
        if rows:
            with self.immediate() as conn:
                if replace:
                    _upsert(conn, "comparisons", COMPARISON_COLUMNS, ("key",), rows)
                else:
                    _insert_or_ignore(conn, "comparisons", COMPARISON_COLUMNS, rows)

    @guarded
    def comparisons(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """Stored comparison rows by (base set key, head set key)."""
        keys = [comparison_key(before, after) for before, after in pairs]
        found = {}
        for chunk in map(list, chunks(keys, BATCH)):
            for row in self.db.query(
                f"SELECT * FROM comparisons WHERE key IN ({', '.join('?' for _ in chunk)})", chunk
            ):
                found[(row["before_key"], row["after_key"])] = row
        return found

    @guarded
    def typical_output_tokens(self, set_ids: Iterable[str]) -> dict[tuple[str, str], float]:
        """{(set id, case id): mean output tokens} over the model answers stored for these sets."""
        found: dict[tuple[str, str], float] = {}
        for chunk in map(list, chunks(sorted(set(set_ids)), BATCH)):
            query = (
                "SELECT set_id, case_id, avg(tokens_out) FROM results "
                f"WHERE set_id IN ({', '.join('?' for _ in chunk)}) AND tokens_out > 0 "
                "GROUP BY set_id, case_id"
            )
            for set_id, case_id, mean in self.db.execute(query, chunk).fetchall():
                found[(set_id, case_id)] = mean
        return found

    # -- counted input tokens -------------------------------------------------------------

    @guarded
    def token_counts(self, keys: Iterable[str]) -> dict[str, int]:
        """{count key: input tokens} for the requests the provider has counted."""
        found: dict[str, int] = {}
        for chunk in map(list, chunks(sorted(set(keys)), BATCH)):
            query = (
                "SELECT key, input_tokens FROM token_counts "
                f"WHERE key IN ({', '.join('?' for _ in chunk)})"
            )
            found.update(self.db.execute(query, chunk).fetchall())
        return found

    @guarded
    def save_token_counts(self, rows: list[dict]) -> None:
        if rows:
            with self.immediate() as conn:
                _insert_or_ignore(conn, "token_counts", TOKEN_COUNT_COLUMNS, rows)

    # -- submitted batches ----------------------------------------------------------------

    @guarded
    def save_batch(
        self, batch_id: str, run_id: int, provider: str, endpoint: str, keys: list[str]
    ) -> None:
        """Recorded right after the API accepted it: from here on a re-run picks it up."""
        with self.immediate() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO batches (id, run_id, provider, endpoint, requests, state, "
                "created_at) VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (batch_id, run_id, provider, endpoint, len(keys), now()),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO batch_requests (batch_id, request_key) VALUES (?, ?)",
                [(batch_id, key) for key in keys],
            )

    @guarded
    def open_batches(self, endpoint: str, keys: Iterable[str]) -> dict[str, list[str]]:
        """{batch id: the given request keys it carries} for the open batches sent to `endpoint`."""
        found: dict[str, list[str]] = {}
        for chunk in map(list, chunks(keys, BATCH)):
            query = (
                "SELECT batch_id, request_key FROM batch_requests JOIN batches "
                "ON batches.id = batch_requests.batch_id WHERE batches.state = 'open' "
                "AND batch_requests.read_at IS NULL "
                f"AND batches.endpoint = ? AND request_key IN ({', '.join('?' for _ in chunk)}) "
                "ORDER BY batches.created_at"
            )
            for batch_id, key in self.db.execute(query, [endpoint, *chunk]).fetchall():
                found.setdefault(batch_id, []).append(key)
        return found

    @guarded
    def read_from_batch(self, batch_id: str, keys: Iterable[str]) -> None:
        """These requests' results are read (and their answers stored); the batch is `collected`
        once none of its requests is left unread."""
        with self.immediate() as conn:
            conn.executemany(
                "UPDATE batch_requests SET read_at = ? WHERE batch_id = ? AND request_key = ?",
                [(now(), batch_id, key) for key in keys],
            )
            unread = conn.execute(
                "SELECT 1 FROM batch_requests WHERE batch_id = ? AND read_at IS NULL LIMIT 1",
                [batch_id],
            ).fetchone()
            if unread is None:
                conn.execute(
                    "UPDATE batches SET state = 'collected', ended_at = ? WHERE id = ?",
                    (now(), batch_id),
                )

    @guarded
    def close_batch(self, batch_id: str, state: str) -> None:
        """`dropped` when the user asked for a new one (`read_from_batch` collects one)."""
        with self.immediate() as conn:
            conn.execute(
                "UPDATE batches SET state = ?, ended_at = ? WHERE id = ?",
                (state, now(), batch_id),
            )

    # -- judge calibrations ---------------------------------------------------------------

    @guarded
    def save_calibration(self, row: dict) -> None:
        """The newest calibration of a (judge, labels) pair replaces the one before."""
        with self.immediate() as conn:
            _upsert(conn, "calibrations", CALIBRATION_COLUMNS, ("judge_key", "labels_key"), [row])

    @guarded
    def calibrations(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """{(judge key, labels key): row} for the pairs that have been calibrated."""
        found: dict[tuple[str, str], dict] = {}
        for judge_key, labels_key in set(pairs):
            for row in self.db.query(
                "SELECT * FROM calibrations WHERE judge_key = ? AND labels_key = ?",
                [judge_key, labels_key],
            ):
                found[(judge_key, labels_key)] = row
        return found

    @guarded
    def outputs_of_set(self, set_id: str) -> set[tuple[str, str]]:
        """(case id, output) of every result stored for a set id, whatever its version."""
        rows = self.db.execute(
            "SELECT case_id, output FROM results WHERE set_id = ? AND output IS NOT NULL", [set_id]
        )
        return set(rows.fetchall())

    @guarded
    def answering_tiers(self, set_key: str) -> list[str]:
        """The tier that answered each stored routed result of a set (one per case sample)."""
        return [
            tier
            for (tier,) in self.db.execute(
                "SELECT tier FROM results WHERE set_key = ? AND tier IS NOT NULL", [set_key]
            )
        ]

    @guarded
    def latest_set_key(self, set_id: str) -> str | None:
        """The key of the newest completed run's whole set of this id."""
        row = self.db.execute(
            "SELECT set_key FROM set_scores WHERE set_id = ? ORDER BY created_at DESC LIMIT 1",
            [set_id],
        ).fetchone()
        return row[0] if row else None

    @guarded
    def response_keys(self) -> set[str]:
        return {key for (key,) in self.db.execute("SELECT key FROM responses")}

    @guarded
    def response_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM responses").fetchone()[0]


def comparison_key(before_key: str, after_key: str) -> str:
    return f"{before_key}..{after_key}"


def _insert_results(conn: sqlite3.Connection, rows: list[dict], replace: bool) -> None:
    placeholders = ", ".join("?" for _ in RESULT_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in RESULT_COLUMNS if c != "key")
    # A finished result is content: a second writer of the same key keeps the first,
    # unless it was an error or a skip, or the user asked for fresh calls.
    # Status.ERROR and Status.SKIPPED, spelt as stored (the store does not import the domain).
    guard = "" if replace else " WHERE results.status IN ('error', 'skipped')"
    conn.executemany(
        f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({placeholders}) "
        f"ON CONFLICT(key) DO UPDATE SET {updates}{guard}",
        [tuple(row.get(c) for c in RESULT_COLUMNS) for row in rows],
    )


def _insert_or_ignore(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[dict]
) -> None:
    conn.executemany(
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [tuple(row.get(c) for c in columns) for row in rows],
    )


def _upsert(
    conn: sqlite3.Connection,
    table: str,
    columns: tuple[str, ...],
    pk: tuple[str, ...],
    rows: list[dict],
) -> None:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in pk)
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT({', '.join(pk)}) DO UPDATE SET {updates}",
        [tuple(row.get(c) for c in columns) for row in rows],
    )
