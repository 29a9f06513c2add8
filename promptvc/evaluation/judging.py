"""The judge's calls: a case's llm-rubric verdicts (`judge_repeat` draws), judge requests that
belong to no single case (the pairwise judge), and the judge alone on requests already rendered
(calibration). Each goes through the run's answers like the model's calls; a reply is recorded
only once it parses, so a garbled verdict is asked again next time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from promptvc.errors import UserError
from promptvc.evals.assertions import Assertion
from promptvc.evaluation.answering import Answered, Answerer
from promptvc.evaluation.plan import CaseJob, EvalPlan
from promptvc.evaluation.request import ModelRequest, build_request
from promptvc.evaluation.responses import RunStats
from promptvc.prompts.judge import parse_verdict, render_judge
from promptvc.providers import ProviderError, RequestRejected, Response, Skipped, provider_class

Verdict = tuple[int, str]  # the score and the judge's reason


@dataclass(frozen=True)
class JudgeReply:
    verdict: Verdict | None  # None: no reply, or one without a `Score: N` line
    text: str
    problem: str | None = None  # why there is no reply (no recording, the API failed)


class Judging:
    def __init__(self, answers: Answerer, stats: RunStats, deadline: float | None):
        """`deadline`: a time.monotonic() by which the judge calls outside a case end."""
        self.answers = answers
        self.stats = stats
        self.deadline = deadline

    async def verdicts(
        self, plan: EvalPlan, job: CaseJob, assertion: Assertion, output: str, spent: list[float]
    ) -> list[Verdict]:
        """The judge's verdicts on one answer: `judge_repeat` draws, each its own cached call;
        what the calls fetched now cost is added to `spent[0]`."""
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
        return list(await asyncio.gather(*(self._verdict(job, r, spent) for r in requests)))

    async def ask_all(
        self, asks: list[tuple[ModelRequest, CaseJob]], parses: Callable[[str], bool]
    ) -> list[Response | Exception]:
        """Judge requests that belong to no single case, sent as a case's judge calls are; one
        that could not be answered comes back as its exception, in its place."""
        return list(await asyncio.gather(*(self._ask_in_time(r, j, parses) for r, j in asks)))

    async def replies(self, jobs: list[CaseJob]) -> list[JudgeReply]:
        """The judge's replies to requests already rendered (each job's `request` is the judge's)."""
        self.answers.look_up(jobs)
        return list(await asyncio.gather(*(self._reply(job) for job in jobs)))

    async def _verdict(self, job: CaseJob, request: ModelRequest, spent: list[float]) -> Verdict:
        response, cost, fresh = await self._ask(request, job, _has_verdict)
        if fresh:
            spent[0] += cost or 0.0
        verdict = parse_verdict(response.text)
        if verdict is None:
            raise UserError(f"the judge's reply has no 'Score: N' line: {response.text[:120]!r}")
        return verdict

    async def _ask_in_time(
        self, request: ModelRequest, job: CaseJob, parses: Callable[[str], bool]
    ) -> Response | Exception:
        try:
            async with asyncio.timeout_at(self.deadline):
                return (await self._ask(request, job, parses))[0]
        except (Skipped, ProviderError, TimeoutError) as exc:
            return exc

    async def _reply(self, job: CaseJob) -> JudgeReply:
        try:
            response, _, _ = await self._ask(job.request, job, _has_verdict)
        except Skipped as exc:
            return JudgeReply(None, "", problem=str(exc))
        except ProviderError as exc:
            if isinstance(exc, RequestRejected):
                self.stats.rejected.append(str(exc))
            elif exc.unreachable:
                self.stats.unreachable.append(str(exc))
            return JudgeReply(None, "", problem=str(exc))
        return JudgeReply(parse_verdict(response.text), response.text)

    async def _ask(
        self, request: ModelRequest, job: CaseJob, parses: Callable[[str], bool]
    ) -> Answered:
        """A judge's call, through the cache like every call; recorded only if its reply parses."""
        response, cost, fresh = await self.answers.respond(
            request, job, remember=False, identity=job.judged_by
        )
        if fresh and parses(response.text):
            self.answers.remember(request, response, cost)
        return response, cost, fresh


def _has_verdict(text: str) -> bool:
    return parse_verdict(text) is not None
