"""Calibrating the judge against people: the judge of a snapshot (its template and its `judge`
tier) scores every labelled (rubric, output) pair through the response cache, and the figures of
its agreement with the labels are stored per judge version and labels file."""

from __future__ import annotations

from dataclasses import dataclass

from promptvc.calibration import Agreement, Pair, agreement, stored_row
from promptvc.errors import CannotEvaluate, UserError
from promptvc.evals.assertions import Assertion
from promptvc.evals.goldens import BrokenSet, Case, GoldenSet
from promptvc.evals.labels import Label, labels_files, labels_path, read_labels
from promptvc.evaluation.judging import JudgeReply
from promptvc.evaluation.keys import judge_identity, judge_key, labels_key
from promptvc.evaluation.plan import CaseJob, select_sets
from promptvc.evaluation.prices import price_for
from promptvc.evaluation.request import build_request
from promptvc.evaluation.runner import Runner
from promptvc.git.snapshot import Where
from promptvc.prompts.judge import judge_config, render_judge
from promptvc.prompts.render import Renderer
from promptvc.providers import Identity
from promptvc.store import Store
from promptvc.workspace import Workspace


@dataclass(frozen=True)
class SetCalibration:
    golden: GoldenSet
    path: str  # the labels file
    labels: tuple[Label, ...]
    pairs: tuple[Pair, ...]  # the labels the judge scored
    unparsed: tuple[Label, ...]  # the judge replied without a `Score: N` line
    unjudged: tuple[tuple[Label, str], ...]  # no reply, and why (replay without a recording)
    unknown_outputs: int  # labels of an output no stored run produced (allowed)
    agreement: Agreement | None  # None when the judge scored none of the labels


@dataclass(frozen=True)
class CalibrationRun:
    snapshot: str
    judge: str  # which judge, in words
    judge_key: str
    sets: tuple[SetCalibration, ...]
    calls: int
    cost: float
    orphans: tuple[str, ...] = ()  # labels files of no golden set: not used


@dataclass(frozen=True)
class _Labelled:
    golden: GoldenSet
    path: str
    labels: tuple[Label, ...]
    identity: Identity


def calibrate(
    ws: Workspace, where: Where, names: tuple[str, ...] = (), *, provider: str | None = None
) -> CalibrationRun:
    snapshot = ws.snapshot(where)
    renderer = ws.renderer(snapshot)
    labelled, orphans = _labelled_sets(ws, renderer, names, provider)
    key = judge_key(renderer)
    store = Store(ws.db_path)
    try:
        runner = Runner(store, ws.settings, str(ws.root))
        replies = _judge_all(runner, renderer, labelled)
        results = tuple(_set_calibration(store, item, replies) for item in labelled)
        for item, result in zip(labelled, results, strict=True):
            if result.agreement is not None:
                text = snapshot.read_text(item.path)
                store.save_calibration(_row(key, labels_key(text), result, snapshot.label))
    finally:
        store.close()
    stats = runner.stats
    return CalibrationRun(
        snapshot.label, judge_words(renderer), key, results, stats.calls, stats.cost, orphans
    )


def _judge_all(
    runner: Runner, renderer: Renderer, labelled: list[_Labelled]
) -> dict[Label, JudgeReply]:
    """The judge's reply to every label; a request two labels share is sent once."""
    jobs = {label: _judge_job(renderer, item, label) for item in labelled for label in item.labels}
    unique = {job.request.key: job for job in jobs.values()}
    replies = dict(zip(unique, runner.judge_requests(list(unique.values())), strict=True))
    if runner.stats.rejected:
        raise UserError(runner.stats.rejected[0])
    if runner.stats.unreachable:
        raise CannotEvaluate(f"could not ask the judge: {runner.stats.unreachable[0]}")
    return {label: replies[job.request.key] for label, job in jobs.items()}


def _row(judge: str, labels: str, result: SetCalibration, snapshot: str) -> dict:
    assert result.agreement is not None
    extra = {
        "unparsed": len(result.unparsed),
        "unjudged": len(result.unjudged),
        "unknown_outputs": result.unknown_outputs,
        "snapshot": snapshot,
    }
    return stored_row(judge, labels, result.golden.id, result.agreement, extra)


def judge_words(renderer: Renderer) -> str:
    """`prompts/judge.jinja on claude-sonnet-4-6 (tier judge)`, or the built-in judge."""
    from promptvc.prompts.file import JUDGE_NAME, prompt_path
    from promptvc.prompts.judge import has_custom_judge

    config = judge_config(renderer)
    which = (
        prompt_path(JUDGE_NAME, renderer.prompts_dir)
        if has_custom_judge(renderer)
        else "the built-in judge"
    )
    tier = f" (tier {config.tier})" if config.tier else ""
    return f"{which} on {config.model or 'no model'}{tier}"


def _labelled_sets(
    ws: Workspace, renderer: Renderer, names: tuple[str, ...], provider: str | None
) -> tuple[list[_Labelled], tuple[str, ...]]:
    """The selected sets that have labels, their labels checked line by line; and the labels
    files that belong to no golden set."""
    snapshot = renderer.snapshot
    evals_dir = ws.settings.evals_dir
    goldens, unreadable = ws.read_goldens(snapshot)
    chosen, broken = select_sets(goldens, names, unreadable)
    files = labels_files(snapshot, evals_dir)
    for item in broken:  # a set whose labels cannot be checked against its cases
        if names or any(name in files for name in item.names):
            raise item.error
    labelled = []
    for golden in chosen:
        path = labels_path(evals_dir, golden.id)
        labels = read_labels(snapshot, path, (c.id for c in golden.cases))
        if labels:
            labelled.append(
                _Labelled(golden, path, labels, _judge_identity(renderer, golden, provider, ws))
            )
    if not labelled:
        raise UserError(_no_labels(chosen, broken, evals_dir, names))
    known = {g.id for g in goldens} | {n for b in unreadable for n in b.names}
    orphans = () if names else tuple(p for s, p in sorted(files.items()) if s not in known)
    return labelled, orphans


def _no_labels(
    chosen: list[GoldenSet], broken: list[BrokenSet], evals_dir: str, names: tuple[str, ...]
) -> str:
    if names and len(chosen) == 1:
        golden = chosen[0]
        where = labels_path(evals_dir, golden.id)
        return f"no labels for golden set {golden.id} ({where}); make some with `promptvc label {golden.id}`"
    where = f"{evals_dir.rstrip('/')}/labels/"
    return f"no labels to calibrate the judge against ({where} is empty); make some with `promptvc label SET`"


def _judge_identity(
    renderer: Renderer, golden: GoldenSet, provider: str | None, ws: Workspace
) -> Identity:
    """As `eval` chooses, except that the judge needs a model: a set checked with echo is judged
    by the default provider."""
    own = golden.provider if golden.provider != "echo" else None
    identity = judge_identity(renderer, own, provider, ws.settings.provider)
    if identity.kind == "echo":
        raise UserError(
            "the judge needs a model; echo cannot judge (use --provider anthropic or replay)"
        )
    return identity


def _judge_job(renderer: Renderer, item: _Labelled, label: Label) -> CaseJob:
    """The judge's request for one label, as a job the runner answers through the cache."""
    case = next(c for c in item.golden.cases if c.id == label.case)
    try:
        rendered = render_judge(renderer, label.rubric, label.output, case.vars)
    except UserError as exc:
        raise UserError(f"{exc} (judging {item.path}:{label.line})") from None
    request = build_request(rendered, item.identity.kind, item.identity.endpoint, 0)
    config = rendered.config
    price = price_for(config.model, config.price, item.identity.known_price(config.model))
    return CaseJob(item.golden, case, 0, request.key, request, price, item.identity, "")


def _set_calibration(
    store: Store, item: _Labelled, replies: dict[Label, JudgeReply]
) -> SetCalibration:
    pairs, unparsed, unjudged = [], [], []
    for label in item.labels:
        reply = replies[label]
        if reply.verdict is not None:
            score, reason = reply.verdict
            minimum = rubric_min(item.golden, label.case, label.rubric)
            pairs.append(
                Pair(label.case, label.rubric, label.output, label.score, score, minimum, reason)
            )
        elif reply.problem is not None:
            unjudged.append((label, reply.problem))
        else:
            unparsed.append(label)
    produced = store.outputs_of_set(item.golden.id)
    unknown = sum(1 for label in item.labels if (label.case, label.output) not in produced)
    return SetCalibration(
        item.golden,
        item.path,
        item.labels,
        tuple(pairs),
        tuple(unparsed),
        tuple(unjudged),
        unknown,
        agreement(pairs) if pairs else None,
    )


def rubric_min(golden: GoldenSet, case_id: str, rubric: str) -> int:
    """The passing score of a rubric in its set: the `min` of the llm-rubric assertion with that
    text (the labelled case's own first, then any case's), else the assertion's default."""
    cases: list[Case] = sorted(golden.cases, key=lambda c: c.id != case_id)
    for case in cases:
        for assertion in case.asserts:
            if assertion.type == "llm-rubric" and str(assertion.value) == rubric:
                return assertion.min
    return Assertion.min  # the dataclass field's default
