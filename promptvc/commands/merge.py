"""`promptvc merge DB...`: the shards of a sharded run (`eval --shard K/N`) as one run."""

from __future__ import annotations

from promptvc.errors import UserError
from promptvc.evals.scoring import Status
from promptvc.wording import plural
from promptvc.workspace import Workspace


def run(
    paths: tuple[str, ...],
    *,
    rev: str | None,
    provider: str | None,
    repeat: int | None,
    as_json: bool,
) -> int:
    from promptvc.evaluation.runner import raise_for_faults
    from promptvc.evaluation.shards import merge_shards
    from promptvc.store import Store
    from promptvc.views import eval as evalview
    from promptvc.views.terminal import console

    if not paths:
        raise UserError("name the shards' databases: promptvc merge shard1.db shard2.db ...")
    ws = Workspace.open()
    store = Store(ws.db_path)
    merged = merge_shards(ws, store, paths, rev=rev, provider=provider, repeat=repeat)
    outcome, imported = merged.outcome, merged.imported
    if as_json:
        print(
            evalview.outcome_json(
                outcome.sets,
                run_id=outcome.run_id,
                snapshot=merged.label,
                calls=outcome.stats.calls,
                cost=outcome.stats.cost,
                elapsed=outcome.elapsed,
            )
        )
    else:
        out = console()
        out.print(
            f"promptvc merge · {merged.label} · run {outcome.run_id} · "
            f"{plural(len(paths), 'shard')}, {plural(imported.results, 'result')} and "
            f"{plural(imported.responses, 'recorded response')} read",
            style="bold",
        )
        out.print(evalview.sets_table(outcome.sets, outcome.elapsed))
        out.print(f"{plural(outcome.stats.calls, 'call')} sent", style="dim")
    raise_for_faults(outcome)
    return 1 if any(s.status == Status.FAILED or s.broken for s in outcome.sets) else 0
