"""The results store's schema: its columns, and the migrations that build it (sqlite-utils'
Migrations, each applied once in its own transaction). The tables are documented in the README."""

from __future__ import annotations

import json
from pathlib import Path

from promptvc.errors import UserError
from promptvc.sqlitedb import Migrations, sqlite_utils

migrations = Migrations("promptvc")


RESULT_COLUMNS = (
    "key",
    "set_key",
    "set_id",
    "case_id",
    "sample",
    "prompt",
    "provider",
    "model",
    "request_key",
    "status",
    "score",
    "passed",
    "output",
    "grades",
    "judge_reason",
    "latency_ms",
    "tokens_in",
    "tokens_out",
    "cost",
    "truncated",
    "error",
    "created_at",
    "cache_write_tokens",
    "cache_read_tokens",
    "cache_saved",
    "tier",
    "route",
)
RESPONSE_COLUMNS = (
    "key",
    "provider",
    "endpoint",
    "model",
    "request",
    "text",
    "reported_model",
    "stop_reason",
    "tokens_in",
    "tokens_out",
    "latency_ms",
    "cost",
    "source",
    "created_at",
    "ask_key",
    "cache_write_tokens",
    "cache_read_tokens",
)
COMPARISON_COLUMNS = ("key", "before_key", "after_key", "set_id", "figures", "created_at")
SET_SCORE_COLUMNS = (
    "set_key",
    "set_id",
    "prompt",
    "provider",
    "endpoint",
    "threshold",
    "cases",
    "passed",
    "failed",
    "errored",
    "skipped",
    "score",
    "status",
    "samples",
    "temperature",
    "cost",
    "run_id",
    "created_at",
    "flaky",
    "judge_share",
    "cache_write_tokens",
    "cache_read_tokens",
    "cache_saved",
    "route",
)
CASE_SCORE_COLUMNS = (
    "set_key",
    "case_id",
    "cluster",
    "samples",
    "passes",
    "needed",
    "passed",
    "flaky",
    "score",
    "spread",
    "pass_low",
    "pass_high",
    "judge_share",
    "run_id",
    "created_at",
)
TOKEN_COUNT_COLUMNS = ("key", "endpoint", "model", "input_tokens", "created_at")
CALIBRATION_COLUMNS = (
    "judge_key",
    "labels_key",
    "set_id",
    "labels",
    "kappa",
    "exact",
    "within_one",
    "spearman",
    "pass_agreement",
    "pass_kappa",
    "leniency",
    "verbosity",
    "figures",
    "created_at",
)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "complete": int,
            "snapshot": str,
            "commit_sha": str,
            "provider": str,
            "command": str,
            "sets": int,
            "cases": int,
            "passed": int,
            "failed": int,
            "errored": int,
            "skipped": int,
            "calls": int,
            "cost": float,
            "tokens_in": int,
            "tokens_out": int,
        },
        pk="id",
    )
    db.table("results").create(
        {
            "key": str,
            "set_key": str,
            "set_id": str,
            "case_id": str,
            "sample": int,
            "prompt": str,
            "provider": str,
            "model": str,
            "request_key": str,
            "status": str,
            "score": float,
            "passed": int,
            "output": str,
            "grades": str,
            "judge_reason": str,
            "latency_ms": float,
            "tokens_in": int,
            "tokens_out": int,
            "cost": float,
            "truncated": int,
            "error": str,
            "created_at": str,
        },
        pk="key",
    )
    db.table("results").create_index(["set_key", "case_id"])
    db.table("run_results").create(
        {"run_id": int, "result_key": str},
        pk=("run_id", "result_key"),
        foreign_keys=[("run_id", "runs", "id"), ("result_key", "results", "key")],
    )
    db.table("run_results").create_index(["result_key"])
    db.table("responses").create(
        {
            "key": str,
            "provider": str,
            "endpoint": str,
            "model": str,
            "request": str,
            "text": str,
            "reported_model": str,
            "stop_reason": str,
            "tokens_in": int,
            "tokens_out": int,
            "latency_ms": float,
            "cost": float,
            "source": str,
            "created_at": str,
        },
        pk="key",
    )
    db.table("set_scores").create(
        {
            "set_key": str,
            "set_id": str,
            "prompt": str,
            "provider": str,
            "endpoint": str,
            "threshold": float,
            "cases": int,
            "passed": int,
            "failed": int,
            "errored": int,
            "skipped": int,
            "score": float,
            "status": str,
            "samples": int,
            "temperature": float,
            "cost": float,
            "run_id": int,
            "created_at": str,
        },
        pk="set_key",
    )
    # What `log` and the TUI read per set, covered by one index.
    db.table("set_scores").create_index(["set_id", "set_key", "score", "status", "provider"])
    db.table("commit_sets").create(
        {
            "commit_sha": str,
            "set_id": str,
            "endpoint": str,
            "set_key": str,
            "prompt": str,
            "path": str,
        },
        pk=("commit_sha", "set_id", "endpoint"),
    )
    db.table("commit_sets").create_index(["set_key"])


@migrations()
def m002_case_status_index(db: sqlite_utils.Database) -> None:
    # The TUI compares a set's cases at two commits on every cursor move: cover that query.
    db.table("results").create_index(
        ["set_key", "sample", "case_id", "status"], index_name="idx_results_case_status"
    )


def refuse_newer(db: sqlite_utils.Database, path: Path) -> None:
    """A database a newer promptvc migrated is never half-read: its tables may mean something else."""
    known = [m.name for m in migrations._migrations]  # sqlite-utils keeps the registered ones here
    applied = [m.name for m in migrations.applied(db)]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise UserError(
            f"was written by a newer promptvc (schema version {len(applied)}, up to migration "
            f"{unknown[-1]}; this promptvc reads up to version {len(known)}); upgrade promptvc, or "
            "set [paths] db in promptvc.toml to another file",
            path=str(path),
        )


@migrations()
def m003_endpoints_without_credentials(db: sqlite_utils.Database) -> None:
    # ANTHROPIC_BASE_URL was stored as given, `user:pass@` and `?key=` included.
    from promptvc.providers import public_endpoint

    conn = db.conn
    leaky = "endpoint LIKE '%@%' OR endpoint LIKE '%?%' OR endpoint LIKE '%#%'"
    for key, request in conn.execute(
        f"SELECT key, request FROM responses WHERE {leaky}"
    ).fetchall():
        try:
            body = json.loads(request)
            body["endpoint"] = public_endpoint(body["endpoint"])
            request = json.dumps(body, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError, KeyError):
            request = None
        conn.execute("UPDATE responses SET request = ? WHERE key = ?", (request, key))
    for table in ("responses", "set_scores", "commit_sets"):
        for (old,) in conn.execute(
            f"SELECT DISTINCT endpoint FROM {table} WHERE {leaky}"
        ).fetchall():
            conn.execute(
                f"UPDATE OR IGNORE {table} SET endpoint = ? WHERE endpoint = ?",
                (public_endpoint(old), old),
            )
            conn.execute(f"DELETE FROM {table} WHERE endpoint = ?", (old,))


@migrations()
def m004_responses_by_what_was_asked(db: sqlite_utils.Database) -> None:
    # Replay finds a recording by model, messages and parameters, whatever endpoint carried it.
    from promptvc.evaluation.request import ask_key_of

    db.table("responses").add_column("ask_key", str)
    rows = db.conn.execute("SELECT key, request FROM responses").fetchall()
    db.conn.executemany(
        "UPDATE responses SET ask_key = ? WHERE key = ?",
        [(ask_key_of(request), key) for key, request in rows],
    )
    db.table("responses").create_index(["ask_key"])


@migrations()
def m005_output_tokens_by_case(db: sqlite_utils.Database) -> None:
    # The cost estimate before a run uses the output lengths cases had before.
    db.table("results").create_index(
        ["set_id", "case_id", "tokens_out"], index_name="idx_results_case_tokens"
    )


@migrations()
def m006_comparisons(db: sqlite_utils.Database) -> None:
    # A comparison's figures (interval, p, re-sampled evidence), so log and the TUI show what the
    # gate printed without resampling again.
    db.table("comparisons").create(
        {
            "key": str,  # before_key..after_key
            "before_key": str,
            "after_key": str,
            "set_id": str,
            "figures": str,  # JSON: significance.SetEvidence.to_json()
            "created_at": str,
        },
        pk="key",
        if_not_exists=True,
    )


@migrations()
def m007_case_scores(db: sqlite_utils.Database) -> None:
    # A case over its repeated samples: what passed of how many, its spread and its interval.
    db.table("case_scores").create(
        {
            "set_key": str,
            "case_id": str,
            "cluster": str,
            "samples": int,
            "passes": int,
            "needed": int,
            "passed": int,
            "flaky": int,
            "score": float,
            "spread": float,
            "pass_low": float,
            "pass_high": float,
            "judge_share": float,
            "run_id": int,
            "created_at": str,
        },
        pk=("set_key", "case_id"),
    )
    db.table("set_scores").add_column("flaky", int)
    db.table("set_scores").add_column("judge_share", float)


@migrations()
def m008_calibrations(db: sqlite_utils.Database) -> None:
    # How far a judge version agrees with people, per labels file (promptvc judge calibrate).
    db.table("calibrations").create(
        {
            "judge_key": str,
            "labels_key": str,
            "set_id": str,
            "labels": int,
            "kappa": float,
            "exact": float,
            "within_one": float,
            "spearman": float,
            "pass_agreement": float,
            "pass_kappa": float,
            "leniency": float,
            "verbosity": float,
            "figures": str,
            "created_at": str,
        },
        pk=("judge_key", "labels_key"),
    )


@migrations()
def m009_token_counts(db: sqlite_utils.Database) -> None:
    # Input tokens the provider counted for a request (`eval --dry-run`), by what is counted.
    db.table("token_counts").create(
        {"key": str, "endpoint": str, "model": str, "input_tokens": int, "created_at": str},
        pk="key",
    )


@migrations()
def m010_prompt_cache_tokens(db: sqlite_utils.Database) -> None:
    # Input tokens the provider's prompt cache wrote and read (billed at their own multiples of
    # the input price), and what that saved: per response, per result, per set and per run.
    for table in ("responses", "results", "set_scores", "runs"):
        db.table(table).add_column("cache_write_tokens", int)
        db.table(table).add_column("cache_read_tokens", int)
    for table in ("results", "set_scores", "runs"):
        db.table(table).add_column("cache_saved", float)


@migrations()
def m011_batches(db: sqlite_utils.Database) -> None:
    # Batches submitted to a provider's batch API, with the run that submitted them and the requests
    # they carry (by cache key): a run interrupted while a batch processes picks it up again
    # instead of paying twice. `state`: open until its results are stored, then collected; dropped
    # when the user asked for a new batch.
    db.table("batches").create(
        {
            "id": str,
            "run_id": int,
            "provider": str,
            "endpoint": str,
            "requests": int,
            "state": str,
            "created_at": str,
            "ended_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("batch_requests").create(
        {"batch_id": str, "request_key": str},
        pk=("batch_id", "request_key"),
        foreign_keys=[("batch_id", "batches", "id")],
    )
    db.table("batch_requests").create_index(["request_key"], index_name="idx_batch_requests_key")


@migrations()
def m012_routed_results(db: sqlite_utils.Database) -> None:
    # A routed prompt's result: the tier that answered, and what each tier it tried scored (JSON),
    # so the route's report against each tier alone survives a fully cached re-run.
    db.table("results").add_column("tier", str)
    db.table("results").add_column("route", str)


@migrations()
def m013_run_versions(db: sqlite_utils.Database) -> None:
    # A score travels in a git note with the promptvc that measured it.
    db.table("runs").add_column("promptvc_version", str)


@migrations()
def m014_routed_sets(db: sqlite_utils.Database) -> None:
    # A routed set's report (the route beside each tier alone, how many cases escalated), so log
    # and the TUI show which tier answered without re-running the route.
    db.table("set_scores").add_column("route", str)


@migrations()
def m015_batch_requests_read(db: sqlite_utils.Database) -> None:
    # When a request's result was read from its batch: a re-run that wants only some of a batch's
    # requests reads those, and the batch stays open for the rest (paid for, not yet stored).
    db.table("batch_requests").add_column("read_at", str)
