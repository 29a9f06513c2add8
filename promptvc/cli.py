"""The command line: parse, call one command function, map errors to exit codes.

Commands import their modules inside the function so `promptvc --help` and a hook
with nothing to check stay fast.
"""

from __future__ import annotations

import gc
import signal
import sys

import click

from promptvc import __version__
from promptvc.errors import PromptvcError


class _RevisionsThenNames(click.Command):
    """`git diff`-style arguments: revisions, then `--`, then names."""

    def parse_args(self, ctx, args):
        if "--" in args:
            split = args.index("--")
            ctx.meta["names"] = tuple(args[split + 1 :])
            args = args[:split]
        return super().parse_args(ctx, args)


_NEW_BATCH = click.option(
    "--new-batch",
    is_flag=True,
    help="With --batch: cancel and forget the open batches of these requests, and submit anew.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptvc")
def cli() -> None:
    """Prompts, few-shot examples and model tiers as versioned templates in git,
    judged by golden sets, gated at commit time."""


@cli.command()
@click.option(
    "--force",
    is_flag=True,
    help="Scaffold even where promptvc files exist (never overwrites a file).",
)
def init(force: bool) -> None:
    """Scaffold promptvc.toml, prompts/, evals/ and the .gitignore entry."""
    from promptvc.commands.init import run

    sys.exit(run(force=force))


@cli.command()
@click.argument("name")
@click.option("--rev", help="A git revision (default: the working tree).")
@click.option(
    "--staged", "--cached", "staged", is_flag=True, help="The staged snapshot (the index)."
)
@click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template variable (repeatable).",
)
@click.option("--case", help="Take the variables from a golden case (ID or SET/ID).")
@click.option("--plain", is_flag=True, help="Exactly the text the echo provider returns.")
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Show a missing variable as {{ name }} instead of failing.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def render(name, rev, staged, var_pairs, case, plain, allow_missing, as_json) -> None:
    """Show a prompt's effective config and rendered messages."""
    from promptvc.commands.render import run

    sys.exit(
        run(
            name,
            rev,
            var_pairs,
            case,
            staged=staged,
            plain=plain,
            allow_missing=allow_missing,
            as_json=as_json,
        )
    )


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--rev", help="The revision to bundle, or to check against (default: HEAD).")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Where to write it (default prompts.bundle.json; - for stdout).",
)
@click.option(
    "--check", metavar="FILE", help="Check that a bundle is intact and matches the revision."
)
def bundle(names, rev, output, check) -> None:
    """Write a deploy bundle: the named prompts (default: all) at a revision, in one JSON file.

    \b
      promptvc bundle --rev prod -o prompts.bundle.json
      promptvc bundle --check prompts.bundle.json --rev prod
    """
    from promptvc.commands.bundle import run

    sys.exit(run(names, rev, output, check))


@cli.command(cls=_RevisionsThenNames)
@click.argument("revs", nargs=-1)
@click.option(
    "--staged", "--cached", "staged", is_flag=True, help="HEAD (or REV) against the index."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (schema in the README)."
)
@click.option("--name-only", is_flag=True, help="Only the names of the prompts the change reaches.")
@click.option("--stat", is_flag=True, help="One line per prompt.")
@click.option(
    "--all-cases",
    is_flag=True,
    help="Show the rendered diff of every affected case, not only the first.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes, as git diff does.")
@click.option(
    "--eval", "with_eval", is_flag=True, help="Also evaluate the affected sets on both sides."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --eval: send nothing; the requests it would send per set and side, and their cost.",
)
@click.option(
    "--each-tier",
    is_flag=True,
    help="A routed prompt: also ask the tiers past the one that answered, to report each alone (with --eval: the new side).",
)
@click.pass_context
def diff(
    ctx, revs, staged, as_json, name_only, stat, all_cases, exit_code, with_eval, dry_run, each_tier
) -> None:
    """Show what a prompt/config diff changes.

    \b
      promptvc diff                 index vs working tree
      promptvc diff --staged        HEAD vs index
      promptvc diff HEAD~1          HEAD~1 vs working tree
      promptvc diff A B | A..B      A vs B
      promptvc diff A...B           merge-base(A, B) vs B
      promptvc diff HEAD~1 -- support/answer
    """
    names = ctx.meta.get("names", ())
    if dry_run and not with_eval:
        raise click.UsageError("--dry-run goes with --eval (a diff alone sends nothing)")
    if each_tier and not with_eval:
        raise click.UsageError("--each-tier goes with --eval (a diff alone asks no tier)")
    if with_eval:
        from promptvc.commands.diff_eval import run as run_eval

        sys.exit(
            run_eval(
                revs,
                names,
                staged=staged,
                as_json=as_json,
                exit_code=exit_code,
                dry_run=dry_run,
                each_tier=each_tier,
            )
        )
    from promptvc.commands.diff import run

    sys.exit(
        run(
            revs,
            names,
            staged=staged,
            as_json=as_json,
            name_only=name_only,
            stat=stat,
            exit_code=exit_code,
            all_cases=all_cases,
        )
    )


@cli.command(name="eval")
@click.argument("names", nargs=-1)
@click.option(
    "-k",
    "pattern",
    metavar="PATTERN",
    help="Only cases whose SET/CASE contains PATTERN (or matches it as a glob).",
)
@click.option("--rev", help="Evaluate a git revision instead of the working tree.")
@click.option("--staged", is_flag=True, help="Evaluate the staged snapshot (the index).")
@click.option("--changed-since", metavar="REV", help="Only the sets a change since REV can affect.")
@click.option(
    "--provider",
    type=click.Choice(["live", "anthropic", "replay", "echo"]),
    help="Override the provider: live (the tier's own, `anthropic` is a synonym), replay or echo.",
)
@click.option(
    "--repeat",
    type=int,
    metavar="N",
    help="Samples per case, instead of each set's own `repeat` (default 1).",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="Requests in flight at once (default 8)."
)
@click.option(
    "--no-cache", is_flag=True, help="Send every request again, ignoring stored responses."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (schema in the README)."
)
@click.option("--junit", metavar="FILE", help="Write JUnit XML.")
@click.option(
    "--strict", is_flag=True, help="Exit 3 when a set could not be evaluated (no key or recording)."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Send nothing: per set, the requests a run would send, their input tokens and cost.",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    metavar="USD",
    help="Refuse to run when the estimated cost of what would be sent is above USD.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Run only part K of N of the cases (split by case, the same on every machine); "
    "`promptvc merge` combines the parts.",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Send the model's requests through the Message Batches API (half price; "
    "a re-run picks up a submitted batch).",
)
@_NEW_BATCH
@click.option(
    "--each-tier",
    is_flag=True,
    help="A routed prompt: also ask the tiers past the one that answered, to report each alone.",
)
@click.option(
    "--notes",
    is_flag=True,
    help="Then note the commit's scores in git (refs/notes/promptvc): with --rev, or on a clean HEAD.",
)
def eval_(
    names,
    pattern,
    rev,
    staged,
    changed_since,
    provider,
    repeat,
    concurrency,
    no_cache,
    as_json,
    junit,
    strict,
    dry_run,
    max_cost,
    shard,
    batch,
    new_batch,
    each_tier,
    notes,
) -> None:
    """Run golden sets, store the results, and show the scores. Exit 1 when a set fails or a case errors."""
    if rev and staged:
        raise click.UsageError("--rev and --staged are exclusive")
    if notes and (staged or dry_run):
        raise click.UsageError("--notes notes a commit's run: not with --staged or --dry-run")
    from promptvc.commands.eval import run

    sys.exit(
        run(
            names,
            pattern=pattern,
            rev=rev,
            staged=staged,
            changed_since=changed_since,
            provider=provider,
            repeat=repeat,
            concurrency=concurrency,
            no_cache=no_cache,
            as_json=as_json,
            junit=junit,
            strict=strict,
            dry_run=dry_run,
            max_cost=max_cost,
            shard=shard,
            batch=batch_mode(batch, new_batch),
            each_tier=each_tier,
            notes=notes,
        )
    )


def batch_mode(batch: bool, new: bool):
    """--batch's polling and progress (one line a look, on stderr), or None without it."""
    if new and not batch:
        raise click.UsageError("--new-batch goes with --batch")
    if not batch:
        return None
    from promptvc.evaluation.batching import BatchMode, default_polling

    return BatchMode(default_polling(), new, lambda line: click.echo(f"promptvc: {line}", err=True))


@cli.command()
@click.option("--base", metavar="REV", help="In CI: compare merge-base(REV, HEAD) with HEAD.")
@click.option(
    "--markdown", metavar="FILE", help="Write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)."
)
@click.option("--junit", metavar="FILE", help="Write JUnit XML.")
@click.option("--strict", is_flag=True, help="Exit 3 when a set could not be evaluated (for CI).")
@click.option("-v", "--verbose", is_flag=True, help="Say so when there is nothing to check.")
@click.option(
    "--pre-push",
    "pre_push",
    metavar="REMOTE",
    hidden=True,
    help="Run as git's pre-push hook: the pushed refs on stdin, as git writes them.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Send nothing: per set and side, the requests the gate would send and their cost.",
)
@click.option(
    "--batch",
    is_flag=True,
    help="In CI: send both sides' requests through the Message Batches API (half price; "
    "waits past [gate] deadline).",
)
@_NEW_BATCH
@click.option(
    "--notes",
    is_flag=True,
    help="With --base: then note both commits' scores in git (refs/notes/promptvc).",
)
@click.option(
    "--each-tier",
    is_flag=True,
    help="A routed prompt: also ask the tiers past the one that answered, to report each alone (the new side).",
)
def check(
    base, markdown, junit, strict, verbose, pre_push, dry_run, batch, new_batch, notes, each_tier
) -> None:
    """The pre-commit gate: staged snapshot vs HEAD. Exit 1 on a regression by the policy."""
    if base and pre_push is not None:
        raise click.UsageError("--base and --pre-push are exclusive")
    if notes and not base:
        raise click.UsageError("--notes needs --base (the staged snapshot is not a commit yet)")
    from promptvc.commands.check import run

    sys.exit(
        run(
            base,
            markdown,
            junit,
            strict,
            verbose,
            pre_push,
            dry_run,
            batch=batch_mode(batch, new_batch),
            notes=notes,
            each_tier=each_tier,
        )
    )


@cli.group()
def hook() -> None:
    """Install or remove the git hooks (pre-commit, pre-merge-commit, pre-push)."""


@hook.command(name="install")
@click.option(
    "--force",
    is_flag=True,
    help="Replace a hook promptvc did not write, or use a global core.hooksPath.",
)
@click.option(
    "--pre-push",
    "pre_push",
    is_flag=True,
    help="Also a pre-push hook: each pushed branch against what the remote has.",
)
def hook_install(force: bool, pre_push: bool) -> None:
    """Write pre-commit and pre-merge-commit hooks that run `promptvc check` (and pre-push with --pre-push)."""
    from promptvc.commands.hook import install

    sys.exit(install(force, pre_push))


@hook.command(name="uninstall")
def hook_uninstall() -> None:
    """Remove promptvc's hooks (only its own)."""
    from promptvc.commands.hook import uninstall

    sys.exit(uninstall())


@cli.command(name="log")
@click.argument("names", nargs=-1)
@click.option("-n", "limit", type=click.IntRange(min=1), help="At most N commits.")
@click.option("--rev", default="HEAD", show_default=True, help="Whose first-parent history.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def log_(names, limit, rev, as_json) -> None:
    """Per-commit scores of each golden set and their change from the parent, newest first."""
    from promptvc.commands.log import run

    sys.exit(run(names, limit, rev, as_json))


@cli.group()
def judge() -> None:
    """The LLM judge: how far it agrees with people's labels."""


@judge.command(name="calibrate")
@click.argument("names", nargs=-1)
@click.option("--rev", help="The judge and labels of a git revision (default: the working tree).")
@click.option("--staged", is_flag=True, help="The judge and labels of the staged snapshot.")
@click.option(
    "--provider",
    type=click.Choice(["live", "anthropic", "replay"]),
    help="Override the provider: live (the judge tier's own, `anthropic` is a synonym) or replay.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def judge_calibrate(names, rev, staged, provider, as_json) -> None:
    """Run the judge on every labelled output (evals/labels/SET.jsonl) and report its agreement
    with the people who labelled them: kappa, Spearman, pass/fail, leniency, the confusion matrix."""
    if rev and staged:
        raise click.UsageError("--rev and --staged are exclusive")
    from promptvc.commands.judge import calibrate

    sys.exit(calibrate(names, rev=rev, staged=staged, provider=provider, as_json=as_json))


@cli.command()
@click.argument("set_name", metavar="SET")
@click.option(
    "--rev", help="Label the outputs stored for a git revision (default: the working tree)."
)
def label(set_name: str, rev: str | None) -> None:
    """Score a golden set's stored outputs by hand (1-5), to calibrate the judge against.
    Appends to evals/labels/SET.jsonl; the judge's own score shows only after yours."""
    from promptvc.commands.label import run

    sys.exit(run(set_name, rev))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def prices(as_json: bool) -> None:
    """The built-in price table (with the date it was last checked) and what each tier costs."""
    from promptvc.commands.prices import run

    sys.exit(run(as_json))


@cli.command()
@click.argument("name", type=click.Choice(["golden-set", "prompt-front-matter"]))
def schema(name: str) -> None:
    """Print the JSON Schema of golden files or prompt front matter (for yaml-language-server)."""
    from promptvc.commands.schema import run

    sys.exit(run(name))


@cli.command()
@click.argument("capture", metavar="FILE.jsonl")
@click.option(
    "--set",
    "set_name",
    metavar="SET",
    help="The golden set to add to (default: the prompt's one set).",
)
@click.option(
    "--where",
    multiple=True,
    metavar="EXPR",
    help="Only calls where KEY=VALUE, KEY!=VALUE, KEY~REGEX, KEY!~REGEX or KEY<N (<=, >, >=); "
    "KEY dotted into the line (vars.question, latency_ms). Repeatable: all must hold.",
)
@click.option(
    "--as-failure",
    is_flag=True,
    help="Keep the output as a not-equals assertion (a known bad answer), not as a comment.",
)
def promote(capture: str, set_name: str | None, where: tuple[str, ...], as_failure: bool) -> None:
    """Turn captured calls (PROMPTVC_CAPTURE) into golden cases, and show the diff."""
    from promptvc.commands.promote import run

    sys.exit(run(capture, set_name, where, as_failure))


@cli.command()
@click.argument("name")
@click.option(
    "--out",
    metavar="FILE",
    help="Where to write the golden set (default: evals/PROMPT-redteam.yaml).",
)
@click.option(
    "--n", "n", type=int, default=40, show_default=True, help="How many attacks to write."
)
@click.option("--rev", help="Read the prompt and its golden cases at this revision.")
@click.option("--force", is_flag=True, help="Overwrite the file when it exists.")
@click.option(
    "--model",
    "use_model",
    is_flag=True,
    help="Also ask the judge tier to write variations of the corpus for this prompt (cached).",
)
@click.option(
    "--variations",
    type=int,
    help="With --model: how many variations per input (default 8).",
)
@click.option("--no-cache", is_flag=True, help="With --model: ask again, not from the cache.")
def redteam(
    name: str,
    out: str | None,
    n: int,
    rev: str | None,
    force: bool,
    use_model: bool,
    variations: int | None,
    no_cache: bool,
) -> None:
    """Write a golden set of prompt-injection and jailbreak attacks on a prompt's inputs."""
    from promptvc.commands.redteam import run

    sys.exit(run(name, out, n, rev, force, use_model, variations, no_cache))


@cli.command()
@click.option(
    "--rev-range",
    "rev",
    default="HEAD",
    show_default=True,
    help="Whose first-parent history to browse.",
)
def tui(rev: str) -> None:
    """Browse the per-commit score history."""
    gc.enable()  # a long-lived process, unlike every other command (see main)
    from promptvc.commands.tui import run

    sys.exit(run(rev))


def _register_team_commands() -> None:
    from promptvc.cli_team import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_register_team_commands()


def main(argv: list[str] | None = None) -> None:
    # SIGTERM (a CI runner cancelling, `timeout`, a closed terminal's kill) ends a run as Ctrl-C
    # does: what finished is kept, the run stays incomplete, exit 130.
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (an embedding application): its signals are its own
        previous = None
    # A command is a short-lived process: the collector's passes over the SDK's freshly imported
    # classes (about 0.15 s) and over everything at exit (about 0.3 s) find no garbage worth it
    # (2,000 requests leave under 1 MB of cycles). Only here, and put back as it was.
    collecting, path = gc.isenabled(), list(sys.path)
    gc.disable()
    try:
        _run(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sys.path[:] = path
        if argv is None:  # the process's own entry point: what is left is freed by the exit
            gc.freeze()
        if collecting:
            gc.enable()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="promptvc", standalone_mode=False)
    except PromptvcError as exc:
        from promptvc.views.terminal import printable  # a message may quote a file or a model

        click.echo(f"promptvc: {printable(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
