"""The database file gone wrong: each fault is one line naming the file and what to do, exit 2 or 3,
and the commands that only read keep working where they can."""

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from promptvc import store as store_module
from promptvc.store import Store
from tests.data import GOLDEN

ECHO_GOLDEN = GOLDEN.replace("threshold: 0.9", "provider: echo\nthreshold: 0.9")


@pytest.fixture
def scored(support_repo):
    """HEAD's echo set evaluated (in a process of its own, so the database is closed cleanly)."""
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    support_repo.commit("echo golden")
    subprocess.run(
        [sys.executable, "-m", "promptvc", "eval", "--rev", "HEAD"],
        cwd=support_repo.root,
        capture_output=True,
        check=False,
    )
    assert (support_repo.root / ".promptvc/promptvc.db").is_file()
    return support_repo


def db_path(repo):
    return repo.root / ".promptvc/promptvc.db"


def checkpoint(db):
    """Fold the write-ahead log into the file; closing the last connection removes -wal and -shm."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert sorted(p.name for p in db.parent.iterdir()) == ["promptvc.db"]


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def unprivileged(*args: str) -> list[str]:
    """Run as this user without the power to ignore file permissions (root in a container has it)."""
    if os.geteuid() != 0:
        return list(args)
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *args]


def promptvc(repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        unprivileged(sys.executable, "-m", "promptvc", *args),
        cwd=repo.root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(params=["with its write-ahead log", "checkpointed"])
def read_only(scored, request):
    """The database, whatever lies beside it, and its folder made read-only."""
    db = db_path(scored)
    if request.param == "checkpointed":
        checkpoint(db)  # no -shm beside it: SQLite cannot open WAL read-only the usual way
    files = sorted(db.parent.iterdir())
    for file in files:
        file.chmod(0o444)
    db.parent.chmod(0o555)
    yield scored
    db.parent.chmod(0o755)
    for file in files:
        file.chmod(0o644)
    assert sorted(db.parent.iterdir()) == files  # nothing created beside it


def test_log_and_export_work_on_a_read_only_database_in_a_read_only_folder(read_only):
    result = promptvc(read_only, "log")
    assert result.returncode == 0, result.stderr
    assert "support-answer" in result.stdout and "1.00" in result.stdout
    result = promptvc(read_only, "responses", "export", "-")
    assert result.returncode == 0, result.stderr


def test_log_works_on_a_read_only_file_in_a_writable_folder(scored):
    db = db_path(scored)
    db.chmod(0o444)
    try:
        result = promptvc(scored, "log")
        assert result.returncode == 0, result.stderr
        assert "1.00" in result.stdout
    finally:
        db.chmod(0o644)


def test_a_command_that_writes_says_the_database_is_read_only(read_only):
    read_only.write("prompts/partials/tone.jinja", "Be kind.\n")
    result = promptvc(read_only, "eval")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert str(db_path(read_only)) in line and "make the file and its folder writable" in line


@pytest.mark.parametrize("fault", ["garbage", "truncated", "directory"])
def test_a_damaged_database_or_a_directory_is_one_line(scored, cli, fault):
    db = db_path(scored)
    checkpoint(db)
    if fault == "garbage":
        db.write_bytes(b"these are not the pages you are looking for\n" * 200)
    elif fault == "truncated":
        db.write_bytes(db.read_bytes()[:1500])
    else:
        db.unlink()
        db.mkdir()
    for command in (("log",), ("eval",), ("responses", "export", "-")):
        code, _out, err = cli(*command)
        assert code == 2, (command, err)
        line = one_line(err)
        assert str(db) in line
        assert (
            "is a directory" if fault == "directory" else "is damaged or not a promptvc database"
        ) in line
        assert ("remove it" if fault == "directory" else "move it aside") in line


def test_render_and_diff_never_open_the_database(scored, cli):
    db = db_path(scored)
    db.unlink()
    db.mkdir()
    code, out, err = cli("render", "support/answer", "--case", "refund-window", "--plain")
    assert code == 0 and "How long do I have to return an item?" in out, err
    scored.write("prompts/partials/tone.jinja", "Be kind.\n")
    code, out, err = cli("diff")
    assert code == 0 and "tone" in out, err


def test_a_database_from_a_newer_promptvc_is_refused_with_its_version(scored, cli):
    conn = sqlite3.connect(db_path(scored))
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('promptvc', 'm099_rename_output', '2027-01-01')"
    )
    conn.execute("ALTER TABLE results RENAME COLUMN output TO answer")  # what a newer schema may do
    conn.commit()
    conn.close()
    known = len(store_module.migrations._migrations)
    for command in (("log",), ("eval",), ("eval", "--rev", "HEAD")):
        code, _out, err = cli(*command)
        assert code == 2, (command, err)
        line = one_line(err)
        assert str(db_path(scored)) in line
        assert (
            f"was written by a newer promptvc (schema version {known + 1}, up to migration m099_rename_output; "
            f"this promptvc reads up to version {known})"
        ) in line
        assert "upgrade promptvc" in line


def test_a_full_disk_is_one_line(support_repo, cli, monkeypatch):
    """No tiny file system here: SQLite's own size cap gives the same SQLITE_FULL a full disk does."""
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{question: 'Question {i} {'x' * 400}?'}}\n"
        f"    assert: [{{type: contains, value: Question}}]"
        for i in range(40)
    )
    support_repo.write(
        "evals/support-answer.yaml",
        f"prompt: support/answer\nprovider: echo\nvars: {{policy: P}}\ncases:\n{cases}\n",
        dedent=False,
    )
    support_repo.commit("many cases")
    opened = Store._open

    def capped(path):
        db = opened(path)
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 1}")
        return db

    monkeypatch.setattr(Store, "_open", staticmethod(capped))
    code, _out, err = cli("eval")
    assert code == 3
    line = one_line(err)
    assert (
        str(db_path(support_repo)) in line
        and "the disk is full" in line
        and "free some space" in line
    )


def test_a_writer_holding_the_lock_past_the_busy_timeout(scored, cli, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(db_path(scored), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        scored.write("prompts/partials/tone.jinja", "Be kind.\n")
        code, _out, err = cli("eval")
        assert code == 3
        line = one_line(err)
        assert str(db_path(scored)) in line
        assert "another process has held the database's write lock for over 0.2 s" in line
        code, out, err = cli("log")  # readers are not blocked by a writer (WAL)
        assert code == 0 and "1.00" in out, err
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_database_folder_that_cannot_be_created_is_one_line(support_repo, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    support_repo.write("promptvc.toml", f'[paths]\ndb = "{locked}/state/promptvc.db"\n')
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    try:
        result = promptvc(support_repo, "eval")
        assert result.returncode == 2
        line = one_line(result.stderr)
        assert f"{locked}/state/promptvc.db" in line and "cannot be created" in line
        result = promptvc(support_repo, "log")  # nothing stored yet, and nothing created to read it
        assert result.returncode == 0, result.stderr
        assert not (locked / "state").exists()
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("database or disk is full", "full"),
        ("database is locked", "busy"),
        ("attempt to write a readonly database", "readonly"),
        ("file is not a database", "corrupt"),
        ("database disk image is malformed", "corrupt"),
        ("unable to open database file", "cantopen"),
        ("no such table: runs", "other"),
    ],
)
def test_an_error_raised_without_sqlites_code_is_read_from_its_words(message, kind):
    from promptvc.storefaults import kind as kind_of

    assert kind_of(sqlite3.OperationalError(message)) == kind


def test_a_file_where_the_database_folder_should_be_is_one_line(support_repo, cli):
    support_repo.write("state", "a file, not a folder\n")
    support_repo.write("promptvc.toml", '[paths]\ndb = "state/promptvc.db"\n')
    support_repo.write("evals/support-answer.yaml", ECHO_GOLDEN)
    code, _out, err = cli("eval")
    assert code == 2
    line = one_line(err)
    assert "state/promptvc.db" in line and "cannot be created" in line
