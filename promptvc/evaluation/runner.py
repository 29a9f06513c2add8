"""Executing a plan: reuse stored results, answer from the cache, call the provider for the rest,
grade, and store results in batches as they finish. The run is marked complete last, so an
interrupted run keeps what finished and never serves as a baseline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from promptvc.errors import CannotEvaluate, UserError
from promptvc.evals import assertions
from promptvc.evals.assertions import Assertion, Grade
from promptvc.evals.pyassert import load_function
from promptvc.evals.scoring import CaseResult, SetOutcome, Status, summarise_set
from promptvc.evaluation.answering import Answerer
from promptvc.evaluation.answering import provider_options as provider_options  # dryrun's
from promptvc.evaluation.batching import BatchMode
from promptvc.evaluation.batchrun import BatchRun
from promptvc.evaluation.judging import JudgeReply, Judging
from promptvc.evaluation.plan import Call, CaseJob, EvalPlan, RouteStep
from promptvc.evaluation.prices import BATCH
from promptvc.evaluation.request import ModelRequest
from promptvc.evaluation.responses import (
    RunStats,
    cache_saving,
    structured,
)
from promptvc.evaluation.routing import run_route, tiers_wanted
from promptvc.providers import (
    ProviderError,
    RequestRejected,
    Response,
    Skipped,
    provider_class,
)
from promptvc.settings import Settings
from promptvc.store import Store
from promptvc.wording import plural

T = TypeVar("T")

FLUSH_EVERY = 50
REUSABLE = (Status.PASSED, Status.FAILED)  # an errored or skipped result is tried again
FLUSH_SECONDS = 0.5


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    sets: tuple[SetOutcome, ...]
    stats: RunStats
    elapsed: float


class Runner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        root: str,
        *,
        no_cache: bool = False,
        concurrency: int | None = None,
        on_result: Callable[[CaseResult], None] | None = None,
        deadline: float | None = None,
        batch: BatchMode | None = None,
        each_tier: bool = False,
    ):
        """`deadline`: a time.monotonic() by which the whole run ends; cases left are errors.
        `batch`: the model's requests go through the provider's batch API (where it has one).
        `each_tier`: a routed prompt's tiers past the one that answered are asked too (for the
        report of each tier alone), not only when their answers are recorded."""
        self.store = store
        self.settings = settings
        self.root = root
        self.no_cache = no_cache
        self.concurrency = concurrency or settings.concurrency
        self.on_result = on_result or (lambda result: None)
        self.stats = RunStats()
        self.deadline = deadline
        self.each_tier = each_tier
        self.answers = Answerer(store, settings, self.concurrency, self.stats, no_cache=no_cache)
        self.judging = Judging(self.answers, self.stats, deadline)
        self._pending: list[dict] = []
        self._last_flush = time.monotonic()
        self._counts: dict[str, int] = {}  # input tokens counted by the provider, by count key
        self.batch = batch

    # -- the whole run ------------------------------------------------------------------

    def run(
        self, plan: EvalPlan, *, snapshot_label: str, commit_sha: str | None, command: str
    ) -> RunOutcome:
        started = time.perf_counter()
        providers = sorted({p.identity.label for p in plan.sets})
        run_id = self.store.start_run(snapshot_label, commit_sha, ", ".join(providers), command)
        self.run_id = run_id
        results = asyncio.run(self._run_all(plan))
        outcomes = tuple(summarise_set(p, [results[j.key] for j in p.jobs]) for p in plan.sets)
        totals = _totals(outcomes, self.stats)
        whole = [o.row() for p, o in zip(plan.sets, outcomes, strict=True) if p.whole]
        cases = [row for o in outcomes for row in o.case_rows()]
        self.store.finish_run(run_id, totals, whole, cases)
        return RunOutcome(run_id, outcomes, self.stats, time.perf_counter() - started)

    async def _run_all(self, plan: EvalPlan) -> dict[str, CaseResult]:
        jobs = plan.jobs
        stored = {} if self.no_cache else self.store.results(j.key for j in jobs)
        results: dict[str, CaseResult] = {}
        reused = []
        for job in jobs:
            row = stored.get(job.key)
            if row and row["status"] in REUSABLE and not tiers_wanted(job, row, self.each_tier):
                results[job.key] = CaseResult.from_row(row, fresh=False)
                reused.append(job.key)
                self.on_result(results[job.key])
        self.store.link_results(self.run_id, reused)
        todo = [j for j in jobs if j.key not in results]
        self._counts = self.store.token_counts(j.request.count_key for j in todo if j.budget)
        # Each run sends in its own order, so that runs of the same plan at once (hooks in two
        # worktrees, a hook and CI) mostly answer different cases and find each other's answers.
        random.shuffle(todo)
        self.answers.look_up(todo)
        try:
            if self.batch is not None:
                batches = BatchRun(
                    self.store, self.batch, self.run_id, self.stats, replace=self.no_cache
                )
                self.answers.batched = await batches.send(
                    self._batchable(todo), self.answers.provider, self.deadline
                )
            for job, result in zip(
                todo,
                await asyncio.gather(*(self._evaluate_in_time(plan, j) for j in todo)),
                strict=True,
            ):
                results[job.key] = result
        finally:
            self._flush(force=True)
            await self.answers.close()
        return results

    def _batchable(self, todo: list[CaseJob]) -> list[CaseJob]:
        """The jobs whose model request a batch may carry: not answered by a recording, within
        their token budget."""
        return [
            job
            for job in todo
            if job.request.key not in self.answers.records
            and job.over_budget(self._counts.get(job.request.count_key)) is None
        ]

    # -- one case -----------------------------------------------------------------------

    async def _evaluate_in_time(self, plan: EvalPlan, job: CaseJob) -> CaseResult:
        if self.deadline is None:
            return await self._evaluate(plan, job)
        try:
            async with asyncio.timeout_at(self.deadline):
                return await self._evaluate(plan, job)
        except TimeoutError:
            error = "the deadline passed before this case was evaluated ([gate] deadline)"
            self.stats.unreachable.append(error)
            return self._finished(
                CaseResult.of_job(job, status=Status.ERROR, error=error, fault="unreachable")
            )

    async def _evaluate(self, plan: EvalPlan, job: CaseJob) -> CaseResult:
        too_long = job.over_budget(self._counts.get(job.request.count_key))
        if too_long is not None:
            return self._finished(over_budget_result(job, too_long))
        try:
            result = await self._answered(plan, job)
        except (Skipped, ProviderError, UserError) as exc:
            result = self._not_answered(job, exc)
        return self._finished(result)

    async def _answered(self, plan: EvalPlan, job: CaseJob) -> CaseResult:
        if job.route is None:
            response, cost, called = await self.answers.respond(job.request, job)
            return await self._grade(plan, job, response, cost, called)
        return await run_route(
            job,
            job.route,
            partial(self._at_tier, plan, job),
            lambda step: self.each_tier or self.answers.free(step.identity, step.request, job),
        )

    def _not_answered(self, job: CaseJob, exc: Skipped | ProviderError | UserError) -> CaseResult:
        """A case that was skipped, or errored: the request refused (a configuration error), the
        provider unreachable, or the case's own checks (a python assertion, the judge's reply)."""
        if isinstance(exc, Skipped):
            return CaseResult.of_job(job, status=Status.SKIPPED, error=str(exc))
        if isinstance(exc, RequestRejected):
            self.stats.rejected.append(
                f"prompt {job.golden.prompt} (golden set {job.golden.id}): {exc}"
            )
            return CaseResult.of_job(job, status=Status.ERROR, error=str(exc), fault="request")
        if isinstance(exc, ProviderError):
            if exc.unreachable:
                self.stats.unreachable.append(str(exc))
            return CaseResult.of_job(
                job,
                status=Status.ERROR,
                error=str(exc),
                fault="unreachable" if exc.unreachable else "request",
            )
        return CaseResult.of_job(job, status=Status.ERROR, error=str(exc), fault="check")

    async def _at_tier(self, plan: EvalPlan, job: CaseJob, step: RouteStep) -> CaseResult:
        response, cost, called = await self.answers.respond(
            step.request, job, identity=step.identity, price=step.price
        )
        return await self._grade(plan, job.at(step), response, cost, called)

    def _finished(self, result: CaseResult) -> CaseResult:
        self._pending.append(result.row())
        self._flush()
        self.on_result(result)
        return result

    async def _grade(
        self, plan: EvalPlan, job: CaseJob, response: Response, cost: float | None, called: bool
    ) -> CaseResult:
        response = structured(job.request, response)
        seen = assertions.Observed(
            response.text,
            job.case.vars,
            job.case.id,
            cost,
            response.latency_ms or None,
            job.request.system,
            job.canary,
            "\n".join(text for _role, text in job.request.messages),
        )
        grades: list[Grade] = []
        judge_reasons: list[str] = []
        judge_spent = [0.0]
        for assertion in job.case.asserts:
            try:
                grades.append(
                    await self._check(plan, job, assertion, seen, judge_reasons, judge_spent)
                )
            except (Skipped, ProviderError, UserError, KeyboardInterrupt, asyncio.CancelledError):
                raise
            except BaseException as exc:  # the user's python assertion raised, or called sys.exit()
                raise UserError(f"{assertion.label}: {type(exc).__name__}: {exc}") from None
        return CaseResult.graded(
            job,
            response,
            cost,
            grades,
            " | ".join(judge_reasons) or None,
            called,
            judge_spent=judge_spent[0],
            cache_saved=cache_saving(job.price, job.request, response),
        )

    async def _check(
        self,
        plan: EvalPlan,
        job: CaseJob,
        assertion: Assertion,
        seen: assertions.Observed,
        judge_reasons: list[str],
        judge_spent: list[float],
    ) -> Grade:
        """One assertion's grade; a judged one adds its mean verdict to `judge_reasons`."""
        if assertion.type == "llm-rubric":
            verdicts = await self.judging.verdicts(plan, job, assertion, seen.output, judge_spent)
            mean = sum(score for score, _ in verdicts) / len(verdicts)
            judge_reasons.append(f"{mean:.3g}/5 {verdicts[0][1]}")
            return assertions.grade_judged(assertion, seen, verdicts)
        function = (
            load_function(plan.snapshot, str(assertion.value), self.root)
            if assertion.type == "python"
            else None
        )
        return assertions.grade(assertion, seen, python_fn=function)

    # -- the judge's calls outside a run (the pairwise judge, calibration) ------------------

    def ask(
        self, asks: list[tuple[ModelRequest, CaseJob]], parses: Callable[[str], bool]
    ) -> list[Response | Exception]:
        """Send judge requests that belong to no single case, as a case's judge calls are sent
        (cache, provider, deadline). A request that could not be answered (no recording, the
        model unreachable, the deadline passed) comes back as its exception, in its place."""
        return asyncio.run(self._closing(self.judging.ask_all(asks, parses)))

    def judge_requests(self, jobs: list[CaseJob]) -> list[JudgeReply]:
        """The judge's replies to requests already rendered (each job's `request` is the judge's),
        through the cache as in a run; nothing is stored as a result."""
        return asyncio.run(self._closing(self.judging.replies(jobs)))

    async def _closing(self, work: Awaitable[T]) -> T:
        try:
            return await work
        finally:
            await self.answers.close()

    # -- storage ------------------------------------------------------------------------

    def _flush(self, force: bool = False) -> None:
        due = (
            len(self._pending) >= FLUSH_EVERY
            or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        )
        if self._pending and (force or due):
            rows, self._pending = self._pending, []
            # each_tier completes stored routed results: its rows replace theirs.
            self.store.save_results(self.run_id, rows, replace=self.no_cache or self.each_tier)
            self._last_flush = time.monotonic()


def _totals(outcomes: tuple[SetOutcome, ...], stats: RunStats) -> dict:
    return {
        "sets": len(outcomes),
        "cases": sum(len(o.results) for o in outcomes),
        "passed": sum(o.passed for o in outcomes),
        "failed": sum(o.failed for o in outcomes),
        "errored": sum(o.errored for o in outcomes),
        "skipped": sum(o.skipped for o in outcomes),
        "calls": stats.calls,
        "cost": stats.cost,
        "tokens_in": stats.tokens_in,
        "tokens_out": stats.tokens_out,
        "cache_write_tokens": stats.cache_written,
        "cache_read_tokens": stats.cache_read,
        "cache_saved": stats.cache_saved,
    }


def calls_to_send(
    store: Store,
    jobs: list[CaseJob],
    *,
    keyed: bool = False,
    batch: bool = False,
    no_cache: bool = False,
) -> list[Call]:
    """The calls a run of these jobs would make: the model's, unless a result can be reused or the
    response is recorded; and the judge's, for every result not reused (its request depends on
    the output, so it cannot be looked up before). The model's input tokens are as the provider
    counted them where it has (`eval --dry-run`), else estimated offline. A case's output is
    estimated at the length its earlier answers had, where the store has any (a quarter of
    max_tokens is the fallback). `keyed`: as a run with the tier's key would (a set without one
    runs from recordings). `batch`: the model's calls a batch API takes are at its discount.
    `no_cache`: as `--no-cache` runs, nothing stored is reused."""
    to_run, to_send = jobs_to_run(store, jobs, keyed=keyed, no_cache=no_cache)
    counts = store.token_counts(j.request.count_key for j in to_run)
    typical = store.typical_output_tokens(j.golden.id for j in to_send)
    sending = {id(j) for j in to_send}
    calls: list[Call] = []
    for job in to_run:
        counted = counts.get(job.request.count_key)
        if job.over_budget(counted):
            continue  # it fails without a call
        if id(job) in sending:
            call = job.model_call if counted is None else job.counted_call(counted)
            seen = typical.get((job.golden.id, job.case.id))
            call = replace(call, output_tokens=round(seen)) if seen else call
            batched = (
                batch
                and provider_class(job.identity.kind if keyed else job.identity.provider).batches
            )
            calls.append(replace(call, discount=BATCH) if batched else call)
        calls.extend(job.judge_calls)
    return calls


def over_budget_result(job: CaseJob, reason: str) -> CaseResult:
    """A case whose prompt outgrew its token budget: failed, with the reason, never sent."""
    failed = CaseResult.of_job(job, status=Status.FAILED)
    return replace(failed, score=0.0, grades=(Grade("max_input_tokens", False, 0.0, reason),))


def jobs_to_run(
    store: Store, jobs: list[CaseJob], *, keyed: bool = False, no_cache: bool = False
) -> tuple[list[CaseJob], list[CaseJob]]:
    """(the jobs a run would evaluate: a provider that sends, no reusable result; of those, the
    ones whose model request would be sent: no recorded response; `no_cache`: none reused)."""
    if no_cache:
        sent = [
            j
            for j in jobs
            if provider_class(j.identity.kind if keyed else j.identity.provider).sends
        ]
        return sent, sent
    stored = store.results(j.key for j in jobs)
    to_run = [
        job
        for job in jobs
        if provider_class(job.identity.kind if keyed else job.identity.provider).sends
        and (stored.get(job.key) or {}).get("status") not in REUSABLE
    ]
    cached = store.responses_for([j.request.key for j in to_run])
    return to_run, [job for job in to_run if job.request.key not in cached]


def raise_for_faults(outcome: RunOutcome) -> None:
    """A request the API refused is a configuration error (exit 2); a provider that failed, exit 3."""
    if outcome.stats.rejected:
        raise UserError(outcome.stats.rejected[0])
    if outcome.stats.unreachable:
        first = outcome.stats.unreachable[0]
        raise CannotEvaluate(
            f"could not evaluate {plural(len(outcome.stats.unreachable), 'case')}: {first}"
        )
