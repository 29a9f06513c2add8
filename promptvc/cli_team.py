"""The commands whose results travel with the repository: recorded responses and scores through
git (`responses`, `notes`), a sharded run put back together (`merge`), a score's history
(`bisect`, `blame`) and a comparison to read in a browser (`report`). Registered on the command
line by promptvc.cli; like every command, each imports its module only when it runs.
"""

from __future__ import annotations

import sys

import click


@click.group()
def responses() -> None:
    """Move recorded responses between machines (for `replay` in CI)."""


@responses.command(name="export")
@click.argument("file")
def responses_export(file: str) -> None:
    """Write every recorded response to FILE (JSON lines; - for stdout)."""
    from promptvc.commands.responses import export

    sys.exit(export(file))


@responses.command(name="import")
@click.argument("file")
def responses_import(file: str) -> None:
    """Load recorded responses from FILE (- for standard input) into the cache."""
    from promptvc.commands.responses import import_

    sys.exit(import_(file))


@responses.command(name="push")
@click.argument("remote", default="origin")
def responses_push(remote: str) -> None:
    """Send recorded responses to REMOTE as git objects (refs/promptvc/responses); only new ones travel."""
    from promptvc.commands.responses import push

    sys.exit(push(remote))


@responses.command(name="fetch")
@click.argument("remote", default="origin")
def responses_fetch(remote: str) -> None:
    """Take the responses REMOTE has (refs/promptvc/responses) into the local cache."""
    from promptvc.commands.responses import fetch

    sys.exit(fetch(remote))


@click.group()
def notes() -> None:
    """Scores as git notes (refs/notes/promptvc): CI's results in everyone's log and TUI."""


@notes.command(name="write")
@click.argument("revs", nargs=-1, metavar="[REV...]")
def notes_write(revs: tuple[str, ...]) -> None:
    """Note each commit's stored scores (default HEAD), merged with the note already there."""
    from promptvc.commands.notes import write

    sys.exit(write(revs))


@notes.command(name="push")
@click.argument("remote", default="origin")
def notes_push(remote: str) -> None:
    """Push refs/notes/promptvc to REMOTE, merging another writer's notes first if it moved on."""
    from promptvc.commands.notes import push

    sys.exit(push(remote))


@notes.command(name="fetch")
@click.argument("remote", default="origin")
def notes_fetch(remote: str) -> None:
    """Fetch REMOTE's promptvc notes and merge them into the local ones (a union by set)."""
    from promptvc.commands.notes import fetch

    sys.exit(fetch(remote))


@click.command()
@click.argument("databases", nargs=-1, metavar="DB...")
@click.option("--rev", help="The commit the shards evaluated (default: the one their runs name).")
@click.option(
    "--provider",
    type=click.Choice(["live", "anthropic", "replay", "echo"]),
    help="The --provider the shards ran with.",
)
@click.option("--repeat", type=int, metavar="N", help="The --repeat the shards ran with.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (as eval's).")
def merge(databases, rev, provider, repeat, as_json) -> None:
    """Combine the databases of a sharded run (`eval --shard K/N` on N machines) into one run
    here, scored as an unsharded run is. Exit 1 when a set fails.

    \b
      promptvc merge shard-1/promptvc.db shard-2/promptvc.db
    """
    from promptvc.commands.merge import run

    sys.exit(run(databases, rev=rev, provider=provider, repeat=repeat, as_json=as_json))


@click.command()
@click.argument("set_name", metavar="SET")
@click.argument("good")
@click.argument("bad")
@click.option("--case", "case_id", metavar="ID", help="The first commit where this case fails.")
@click.option(
    "--below",
    type=float,
    metavar="SCORE",
    help="A commit is bad when the set scores below SCORE (default: halfway from GOOD's to BAD's).",
)
def bisect(set_name, good, bad, case_id, below) -> None:
    """Find the first commit in GOOD..BAD where a golden set's score dropped (or, with --case,
    the case went from pass to fail). Visits only first-parent commits that change what the
    set depends on; stored scores cost nothing, and only what is missing is evaluated."""
    from promptvc.commands.bisect import run

    sys.exit(run(set_name, good, bad, case_id=case_id, below=below))


@click.command()
@click.argument("set_name", metavar="SET")
@click.argument("case_id", metavar="CASE")
@click.option("--rev", default="HEAD", show_default=True, help="Whose first-parent history.")
def blame(set_name, case_id, rev) -> None:
    """A case's stored status at each commit that changed its set, and for each change of
    status the commit and what it changed (as `diff --stat`). Sends nothing."""
    from promptvc.commands.blame import run

    sys.exit(run(set_name, case_id, rev))


@click.command()
@click.argument("revs", nargs=-1)
@click.option(
    "-o",
    "--output",
    default="report.html",
    show_default=True,
    metavar="FILE",
    help="The page to write.",
)
@click.option(
    "--staged", "--cached", "staged", is_flag=True, help="HEAD (or REV) against the index."
)
@click.option(
    "--eval",
    "evaluate",
    is_flag=True,
    help="Evaluate what is not stored yet (as diff --eval does).",
)
@click.option(
    "--all", "every_set", is_flag=True, help="Every golden set, not only those the change affects."
)
def report(revs, output, staged, evaluate, every_set) -> None:
    """Write a comparison of two revisions as one self-contained HTML page.

    Revisions as `promptvc diff` takes them (A..B, A B, A...B, REV, none).
    Reads stored results and sends nothing, unless --eval.
    """
    from promptvc.commands.report import run

    sys.exit(run(revs, staged=staged, output=output, evaluate=evaluate, every_set=every_set))


COMMANDS = (responses, notes, merge, bisect, blame, report)
