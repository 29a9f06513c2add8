"""Executing a plan: reuse stored results, answer from the cache, call the provider for the rest,
grade, and store results in batches as they finish. The run is marked complete last, so an
interrupted run keeps what finished and never serves as a baseline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from promptvc.clock import now
from promptvc.errors import CannotEvaluate, UserError
from promptvc.evals import assertions
from promptvc.evals.assertions import Grade
from promptvc.evals.pyassert import load_function
from promptvc.evals.routes import TierOutcome, answer_tier, fired, tiers_from_json
from promptvc.evals.scoring import CaseResult, SetOutcome, Status, summarise_set
from promptvc.evaluation.batching import BatchMode, BatchSender, batch_failed
from promptvc.evaluation.plan import Call, CaseJob, EvalPlan, PlannedRoute, RouteStep
from promptvc.evaluation.prices import BATCH, CacheUse, Price, price_for
from promptvc.evaluation.request import ModelRequest, build_request, recording_of
from promptvc.prompts.judge import parse_verdict, render_judge
from promptvc.prompts.output_schema import canonical_json
from promptvc.prompts.route import Rule
from promptvc.providers import (
    Identity,
    Provider,
    ProviderError,
    ProviderOptions,
    RequestRejected,
    Response,
    Skipped,
    create_provider,
    provider_class,
)
from promptvc.settings import Settings
from promptvc.store import Store
from promptvc.wording import plural

if TYPE_CHECKING:
    pass

FLUSH_EVERY = 50
REUSABLE = (Status.PASSED, Status.FAILED)  # an errored or skipped result is tried again
FLUSH_SECONDS = 0.5


@dataclass
class RunStats:
    calls: int = 0
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cache_written: int = 0  # input tokens the prompt cache wrote and read for calls sent now
    cache_read: int = 0
    cache_saved: float = 0.0
    unreachable: list[str] = field(default_factory=list)
    rejected: list[str] = field(
        default_factory=list
    )  # requests the API refused: a configuration error


@dataclass(frozen=True)
class JudgeReply:
    verdict: tuple[int, str] | None  # None: no reply, or one without a `Score: N` line
    text: str
    problem: str | None = None  # why there is no reply (no recording, the API failed)


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
        self._providers: dict[tuple, Provider] = {}  # one per endpoint: its own concurrency
        self._pending: list[dict] = []
        self._last_flush = time.monotonic()
        self._cached: dict[str, dict] = {}
        self._counts: dict[str, int] = {}  # input tokens counted by the provider, by count key
        self.batch = batch
        # Answers a batch brought in this run (response and cost), or the error a request ended with.
        self._batched: dict[str, tuple[Response, float | None] | ProviderError] = {}
        self._unbatched: set[str] = set()  # providers without a batch API, warned about once

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
            if row and row["status"] in REUSABLE and not self._tiers_wanted(job, row):
                results[job.key] = CaseResult.from_row(row, fresh=False)
                reused.append(job.key)
                self.on_result(results[job.key])
        self.store.link_results(self.run_id, reused)
        todo = [j for j in jobs if j.key not in results]
        self._counts = self.store.token_counts(j.request.count_key for j in todo if j.budget)
        # Each run sends in its own order, so that runs of the same plan at once (hooks in two
        # worktrees, a hook and CI) mostly answer different cases and find each other's answers.
        random.shuffle(todo)
        if not self.no_cache:
            self._cached = self._recordings(
                [j for j in todo if provider_class(j.identity.provider).recorded]
            )
        try:
            if self.batch is not None:
                await self._send_batched(todo)
            for job, result in zip(
                todo,
                await asyncio.gather(*(self._evaluate_in_time(plan, j) for j in todo)),
                strict=True,
            ):
                results[job.key] = result
        finally:
            self._flush(force=True)
            for provider in self._providers.values():
                await provider.close()
        return results

    def _tiers_wanted(self, job: CaseJob, row: dict) -> bool:
        """A stored routed result lacks tiers that `each_tier` asks for: it is evaluated again
        (its route's answers come from the cache; only the missing tiers are sent)."""
        return (
            self.each_tier
            and job.route is not None
            and len(tiers_from_json(row.get("route"))) < len(job.route.steps)
        )

    def _recordings(self, jobs: list[CaseJob]) -> dict[str, dict]:
        """{request key: recorded response} for these jobs, each found as its provider finds them."""
        by_ask: list[CaseJob] = []
        by_request: list[CaseJob] = []
        for job in jobs:
            (
                by_ask
                if provider_class(job.identity.provider).recordings_by == "ask"
                else by_request
            ).append(job)
        stored = self.store.responses_for([j.request.key for j in by_request])
        found = {
            j.request.key: row
            for j in by_request
            if (row := recording_of(stored.get(j.request.key), j.request)) is not None
        }
        asked = self.store.responses_asked([j.request.ask_key for j in by_ask])
        return found | {
            j.request.key: asked[j.request.ask_key] for j in by_ask if j.request.ask_key in asked
        }

    # -- the batch API (--batch) -------------------------------------------------------------

    async def _send_batched(self, todo: list[CaseJob]) -> None:
        """The model's requests that nothing stored answers, through each endpoint's batch API,
        before the cases are graded (judge calls are then sent one by one, as in any run)."""
        assert self.batch is not None
        try:
            async with asyncio.timeout_at(self.deadline):
                for group in self._batch_groups(todo):
                    sender = BatchSender(
                        self.store,
                        group.provider,
                        group.endpoint,
                        self.run_id,
                        self.batch,
                        partial(self._batch_answers, group.prices),
                    )
                    found = await sender.answers(list(group.requests.values()))
                    self._batched.update(
                        (key, a) for key, a in found.items() if isinstance(a, ProviderError)
                    )
        except TimeoutError:
            raise CannotEvaluate(
                "the deadline passed while the batch was processing ([gate] deadline); "
                "running again picks it up"
            ) from None
        except ProviderError as exc:
            raise batch_failed(exc) from None

    def _batch_groups(self, todo: list[CaseJob]) -> list[_BatchGroup]:
        """Per provider endpoint, the requests a batch would carry: sent, not answered by a
        recording, within their token budget. A provider without a batch API is warned about."""
        groups: dict[tuple[str, str], _BatchGroup] = {}
        for job in todo:
            provider = self._provider(job.identity)
            if not (provider.sends and provider.recorded) or job.request.key in self._cached:
                continue
            if job.over_budget(self._counts.get(job.request.count_key)) is not None:
                continue
            if not provider.batches:
                self._warn_unbatched(provider.name)
                continue
            where = (provider.name, job.identity.endpoint)
            group = groups.setdefault(where, _BatchGroup(provider, job.identity.endpoint))
            group.requests[job.request.key] = job.request
            group.prices[job.request.key] = job.price
        return list(groups.values())

    def _batch_answers(self, prices: dict, answers: list[tuple[ModelRequest, Response]]) -> None:
        """Answers read from a batch: paid for at the batch discount, stored at once."""
        rows = []
        for request, response in answers:
            cost = self._paid(prices[request.key], request, response, BATCH)
            rows.append(response_row(request, response, cost, "batch"))
            self._batched[request.key] = (response, cost)
        self.store.save_responses(rows, replace=self.no_cache)

    def _warn_unbatched(self, provider: str) -> None:
        if provider not in self._unbatched:
            self._unbatched.add(provider)
            assert self.batch is not None
            self.batch.progress(
                f"warning: the {provider} provider has no batch API; its requests are sent one by one"
            )

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
            if job.route is not None:
                result = await self._route(plan, job, job.route)
            else:
                response, cost, called = await self._respond(job.request, job)
                result = await self._grade(plan, job, response, cost, called)
        except Skipped as exc:
            result = CaseResult.of_job(job, status=Status.SKIPPED, error=str(exc))
        except RequestRejected as exc:
            self.stats.rejected.append(
                f"prompt {job.golden.prompt} (golden set {job.golden.id}): {exc}"
            )
            result = CaseResult.of_job(job, status=Status.ERROR, error=str(exc), fault="request")
        except ProviderError as exc:
            if exc.unreachable:
                self.stats.unreachable.append(str(exc))
            result = CaseResult.of_job(
                job,
                status=Status.ERROR,
                error=str(exc),
                fault="unreachable" if exc.unreachable else "request",
            )
        except UserError as exc:  # the case's own checks: a python assertion, the judge's reply
            result = CaseResult.of_job(job, status=Status.ERROR, error=str(exc), fault="check")
        return self._finished(result)

    async def _route(self, plan: EvalPlan, job: CaseJob, route: PlannedRoute) -> CaseResult:
        """The route as production runs it: each tier in turn until no rule fires (the last tier's
        answer stands). The result is the answering tier's, costing every model call on its path;
        the tiers past it are graded for the report only, where their answers cost nothing now
        (or `each_tier` asks for them)."""
        path: list[CaseResult] = []
        outcomes: list[TierOutcome] = []
        for step in route.steps:
            graded, rule = await self._at_tier(plan, job, step, route)
            escalated = rule.describe() if rule and step is not route.steps[-1] else None
            path.append(graded)
            outcomes.append(_tier_outcome(step, graded, escalated))
            if escalated is None:
                break
        extras: list[CaseResult] = []
        for step in route.steps[len(path) :]:
            if self.each_tier or self._free(step, job):
                extra = await self._report_only(plan, job, step, route)
                if extra is not None:
                    extras.append(extra)
                    outcomes.append(_tier_outcome(step, extra, None, answered=False))
        return replace(
            path[-1],
            cost=_path_cost(path),
            spent=sum(r.spent for r in (*path, *extras)),
            tier=answer_tier(outcomes),
            tiers=tuple(outcomes),
        )

    async def _at_tier(
        self, plan: EvalPlan, job: CaseJob, step: RouteStep, route: PlannedRoute
    ) -> tuple[CaseResult, Rule | None]:
        response, cost, called = await self._respond(
            step.request, job, identity=step.identity, price=step.price
        )
        at = job.at(step)
        graded = await self._grade(plan, at, response, cost, called)
        return graded, fired(route.route.rules, at.case.asserts, graded.grades, graded.output or "")

    async def _report_only(
        self, plan: EvalPlan, job: CaseJob, step: RouteStep, route: PlannedRoute
    ) -> CaseResult | None:
        """A tier past the route's answer, graded to report it alone; one that cannot be answered
        (no recording, an error) is left out of the report, never the case's failure."""
        try:
            graded, _ = await self._at_tier(plan, job, step, route)
        except (Skipped, ProviderError, UserError):
            return None
        return graded if graded.evaluated else None

    def _free(self, step: RouteStep, job: CaseJob) -> bool:
        """Whether a tier's answer costs nothing now: an offline provider, or a recorded answer."""
        provider = self._provider(step.identity)
        if not provider.sends:
            return True
        return (
            provider.recorded
            and not self.no_cache
            and self._cached_response(step.request, job, provider) is not None
        )

    def _finished(self, result: CaseResult) -> CaseResult:
        self._pending.append(result.row())
        self._flush()
        self.on_result(result)
        return result

    async def _respond(
        self,
        request: ModelRequest,
        job: CaseJob,
        *,
        cache: bool = True,
        identity: Identity | None = None,
        price: Price | None = None,
    ):
        """(response, its cost, whether it was fetched now) from the cache or the provider
        (`identity`'s, the judge's for a judge call; else the job's), priced at `price` (a route's
        tier) or the job's or the model's."""
        identity = identity or job.identity
        provider = self._provider(identity)
        if not provider.recorded:
            return await provider.complete(request), 0.0, False
        batched = self._batched.get(request.key) if request is job.request else None
        if isinstance(batched, ProviderError):
            raise batched
        if batched is not None:
            return batched[0], batched[1], True
        row = None if self.no_cache else self._cached_response(request, job, provider)
        if row is None:
            check = None if self.no_cache else self._recorded_meanwhile(request)
            try:
                response = await provider.complete(request, check)
            except _RecordedMeanwhile as found:
                row = found.row
        if row is not None:
            return _response_from_row(row), row["cost"], False
        if price is None:
            price = (
                job.price
                if request is job.request
                else price_for(request.model, None, identity.known_price(request.model))
            )
        cost = self._paid(price, request, response)
        if cache:
            self._remember(request, response, cost)
        return response, cost, True

    def _provider(self, identity: Identity) -> Provider:
        name = identity.provider
        key = (name, identity.connection) if name == identity.kind else (name,)
        if key not in self._providers:
            self._providers[key] = create_provider(
                name, provider_options(self.settings, self.concurrency), identity.connection
            )
        return self._providers[key]

    def _recorded_meanwhile(self, request: ModelRequest) -> Callable[[], None]:
        def check() -> None:  # another run may have paid for this answer since this one started
            row = recording_of(self.store.response(request.key), request)
            if row is not None:
                raise _RecordedMeanwhile(row)

        return check

    def _paid(
        self, price: Price | None, request: ModelRequest, response: Response, share: float = 1.0
    ) -> float | None:
        """What a call sent now cost (`share` of the price: the batch discount), its prompt-cache
        writes and reads included, counted into the run's figures."""
        use = cache_use(request, response)
        cost = (
            price.cost(response.input_tokens, response.output_tokens, use) * share
            if price
            else None
        )
        self.stats.calls += 1
        self.stats.cost += cost or 0.0
        self.stats.tokens_in += response.input_tokens
        self.stats.tokens_out += response.output_tokens
        self.stats.cache_written += use.written
        self.stats.cache_read += use.read
        self.stats.cache_saved += (
            price.cache_saving(use, response.input_tokens) * share if price else 0.0
        )
        return cost

    def _cached_response(
        self, request: ModelRequest, job: CaseJob, provider: Provider
    ) -> dict | None:
        if request is job.request:  # the case requests were all looked up in one query
            return self._cached.get(request.key)
        if provider.recordings_by == "ask":
            return self.store.responses_asked([request.ask_key]).get(request.ask_key)
        return recording_of(self.store.response(request.key), request)

    def _remember(self, request: ModelRequest, response: Response, cost: float | None) -> None:
        """Store a response as soon as it arrives: it was paid for, and a kill must not lose it."""
        self.store.save_responses(
            [response_row(request, response, cost, "live")], replace=self.no_cache
        )

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
        )
        grades, judge_reasons, judge_spent = [], [], [0.0]
        for assertion in job.case.asserts:
            try:
                if assertion.type == "llm-rubric":
                    verdicts = await self._judge(plan, job, assertion, response.text, judge_spent)
                    grade = assertions.grade_judged(assertion, seen, verdicts)
                    mean = sum(score for score, _ in verdicts) / len(verdicts)
                    judge_reasons.append(f"{mean:.3g}/5 {verdicts[0][1]}")
                else:
                    function = (
                        load_function(plan.snapshot, str(assertion.value), self.root)
                        if assertion.type == "python"
                        else None
                    )
                    grade = assertions.grade(assertion, seen, python_fn=function)
            except (Skipped, ProviderError, UserError, KeyboardInterrupt, asyncio.CancelledError):
                raise
            except BaseException as exc:  # the user's python assertion raised, or called sys.exit()
                raise UserError(f"{assertion.label}: {type(exc).__name__}: {exc}") from None
            grades.append(grade)
        return CaseResult.graded(
            job,
            response,
            cost,
            grades,
            " | ".join(judge_reasons) or None,
            called,
            judge_spent=judge_spent[0],
            cache_saved=job.price.cache_saving(
                cache_use(job.request, response), response.input_tokens
            )
            if job.price
            else 0.0,
        )

    async def _judge(
        self, plan: EvalPlan, job: CaseJob, assertion, output: str, spent: list[float]
    ) -> list[tuple[int, str]]:
        """The judge's verdicts on one answer: `judge_repeat` draws, each its own cached call."""
        rendered = render_judge(plan.renderer, str(assertion.value), output, job.case.vars)
        if not provider_class(job.identity.provider).judges:
            raise UserError(
                f"llm-rubric needs a model; this set uses the {job.identity.provider} provider"
            )
        identity = job.judged_by
        requests = [
            build_request(rendered, identity.kind, identity.endpoint, job.sample, draw)
            for draw in range(job.golden.judge_repeat)
        ]
        return list(
            await asyncio.gather(*(self._judge_once(job, request, spent) for request in requests))
        )

    async def _judge_once(
        self, job: CaseJob, request: ModelRequest, spent: list[float]
    ) -> tuple[int, str]:
        response, cost, fresh = await self._ask_judge(
            request, job, lambda text: parse_verdict(text) is not None
        )
        if fresh:
            spent[0] += cost or 0.0
        verdict = parse_verdict(response.text)
        if verdict is None:
            raise UserError(f"the judge's reply has no 'Score: N' line: {response.text[:120]!r}")
        return verdict

    async def _ask_judge(
        self, request: ModelRequest, job: CaseJob, parses: Callable[[str], bool]
    ) -> tuple[Response, float | None, bool]:
        """A judge's (response, cost, fetched now), through the cache like every call; only a
        reply that parses is cached, so a garbled verdict is asked again next time."""
        response, cost, fresh = await self._respond(
            request, job, cache=False, identity=job.judged_by
        )
        if fresh and parses(response.text):
            self._remember(request, response, cost)
        return response, cost, fresh

    # -- judge calls outside a case (the pairwise judge) --------------------------------

    def ask(
        self, asks: list[tuple[ModelRequest, CaseJob]], parses: Callable[[str], bool]
    ) -> list[Response | Exception]:
        """Send judge requests that belong to no single case, as a case's judge calls are sent
        (cache, provider, deadline). A request that could not be answered (no recording, the
        model unreachable, the deadline passed) comes back as its exception, in its place."""
        return asyncio.run(self._ask_all(asks, parses))

    async def _ask_all(
        self, asks: list[tuple[ModelRequest, CaseJob]], parses: Callable[[str], bool]
    ) -> list[Response | Exception]:
        try:
            return list(await asyncio.gather(*(self._ask_in_time(r, j, parses) for r, j in asks)))
        finally:
            for provider in self._providers.values():
                await provider.close()
            self._providers.clear()

    async def _ask_in_time(
        self, request: ModelRequest, job: CaseJob, parses: Callable[[str], bool]
    ) -> Response | Exception:
        try:
            async with asyncio.timeout_at(self.deadline):
                return (await self._ask_judge(request, job, parses))[0]
        except (Skipped, ProviderError, TimeoutError) as exc:
            return exc

    # -- the judge alone (calibration against human labels) -------------------------------

    def judge_requests(self, jobs: list[CaseJob]) -> list[JudgeReply]:
        """The judge's replies to requests already rendered (each job's `request` is the judge's),
        through the cache as in a run; nothing is stored as a result."""
        return asyncio.run(self._judge_all(jobs))

    async def _judge_all(self, jobs: list[CaseJob]) -> list[JudgeReply]:
        if not self.no_cache:
            self._cached = self._recordings(jobs)
        try:
            return list(await asyncio.gather(*(self._judge_reply(job) for job in jobs)))
        finally:
            for provider in self._providers.values():
                await provider.close()

    async def _judge_reply(self, job: CaseJob) -> JudgeReply:
        try:
            response, _, _ = await self._ask_judge(
                job.request, job, lambda text: parse_verdict(text) is not None
            )
        except Skipped as exc:
            return JudgeReply(None, "", problem=str(exc))
        except ProviderError as exc:
            if isinstance(exc, RequestRejected):
                self.stats.rejected.append(str(exc))
            elif exc.unreachable:
                self.stats.unreachable.append(str(exc))
            return JudgeReply(None, "", problem=str(exc))
        return JudgeReply(parse_verdict(response.text), response.text)

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


@dataclass
class _BatchGroup:
    provider: Provider
    endpoint: str
    requests: dict[str, ModelRequest] = field(default_factory=dict)
    prices: dict[str, Price | None] = field(default_factory=dict)


class _RecordedMeanwhile(Exception):
    def __init__(self, row: dict):
        super().__init__(row["key"])
        self.row = row


def structured(request: ModelRequest, response: Response) -> Response:
    """An answer asked for in a structure is kept as canonical JSON (keys sorted, no insignificant
    space), so that equal answers are equal outputs; one that is not JSON is kept as it came, for
    the implicit is-json check to fail."""
    if request.output_schema is None:
        return response
    text = canonical_json(response.text)
    return response if text is None else replace(response, text=text)


def response_row(
    request: ModelRequest, response: Response, cost: float | None, source: str
) -> dict:
    """A response as the `responses` table stores it (`source`: live, batch or import)."""
    return {
        "key": request.key,
        "provider": request.provider,
        "endpoint": request.endpoint,
        "model": request.model,
        "request": request.as_json(),
        "text": response.text,
        "reported_model": response.model,
        "stop_reason": response.stop_reason,
        "tokens_in": response.input_tokens,
        "tokens_out": response.output_tokens,
        "latency_ms": response.latency_ms,
        "cost": cost,
        "source": source,
        "created_at": now(),
        "ask_key": request.ask_key,
        "cache_write_tokens": response.cache_write_tokens,
        "cache_read_tokens": response.cache_read_tokens,
    }


def _path_cost(path: list[CaseResult]) -> float | None:
    """What a route's model calls for one case cost: None when no tier's price is known."""
    known = [r.cost for r in path if r.cost is not None]
    return sum(known) if known else None


def _tier_outcome(
    step: RouteStep, graded: CaseResult, escalated: str | None, *, answered: bool = True
) -> TierOutcome:
    return TierOutcome(
        step.tier,
        graded.score,
        graded.status == Status.PASSED,
        graded.cost,
        escalated,
        answered,
    )


def _response_from_row(row: dict) -> Response:
    return Response(
        row["text"],
        row["reported_model"] or row["model"],
        row["stop_reason"],
        row["tokens_in"] or 0,
        row["tokens_out"] or 0,
        row["latency_ms"] or 0.0,
        row.get("cache_write_tokens") or 0,
        row.get("cache_read_tokens") or 0,
    )


def cache_use(request: ModelRequest, response: Response) -> CacheUse:
    """A response's prompt-cache tokens, its writes priced by its breakpoints' time to live."""
    ttl = request.breakpoints[0].ttl if request.breakpoints else None
    return CacheUse.of(response.cache_write_tokens, response.cache_read_tokens, ttl)


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


def provider_options(settings: Settings, concurrency: int) -> ProviderOptions:
    return ProviderOptions(
        concurrency=concurrency,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        retry_after_cap=settings.retry_after_cap,
        deadline=settings.request_deadline,
    )


def raise_for_faults(outcome: RunOutcome) -> None:
    """A request the API refused is a configuration error (exit 2); a provider that failed, exit 3."""
    if outcome.stats.rejected:
        raise UserError(outcome.stats.rejected[0])
    if outcome.stats.unreachable:
        first = outcome.stats.unreachable[0]
        raise CannotEvaluate(
            f"could not evaluate {plural(len(outcome.stats.unreachable), 'case')}: {first}"
        )
