"""What a run would send and what it would cost, sending nothing: `--dry-run` of `eval`, `check`
and `diff --eval`. Which calls a run sends is the runner's rule (`calls_to_send`); this adds
the input tokens as the provider counts them, where it can and a key is set, cached by request
so a second dry run sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from promptvc.evaluation.plan import Call, CaseJob, EvalPlan, SetPlan, estimate_cost
from promptvc.evaluation.runner import calls_to_send, jobs_to_run, provider_options
from promptvc.providers import Identity, Provider, ProviderError, create_provider, provider_class
from promptvc.settings import Settings
from promptvc.store import Store

Side = Literal["", "before", "after"]
PAIRWISE = "pairwise judge"  # the row of the pairwise judge's calls in a comparison


@dataclass(frozen=True)
class SetEstimate:
    """One set's share of a run that was not sent: its requests, their input tokens, their cost."""

    set_id: str
    side: Side
    requests: int
    input_tokens: int
    counted_tokens: int  # of input_tokens, those the provider counted (the rest are estimated)
    cost: float

    @classmethod
    def of(cls, set_id: str, side: Side, calls: list[Call]) -> SetEstimate:
        return cls(
            set_id,
            side,
            len(calls),
            sum(c.input_tokens for c in calls),
            sum(c.input_tokens for c in calls if c.counted),
            estimate_cost(calls),
        )

    @property
    def tokens(self) -> Literal["counted", "estimated", "partly counted"]:
        if self.counted_tokens == self.input_tokens and self.input_tokens:
            return "counted"
        return "partly counted" if self.counted_tokens else "estimated"


@dataclass(frozen=True)
class DryRun:
    sets: tuple[SetEstimate, ...]
    counting: str | None  # why some input tokens are estimated offline (no key, a failure)

    @property
    def total(self) -> SetEstimate:
        return SetEstimate(
            "total",
            "",
            sum(s.requests for s in self.sets),
            sum(s.input_tokens for s in self.sets),
            sum(s.counted_tokens for s in self.sets),
            sum(s.cost for s in self.sets),
        )


def dry_run(
    store: Store,
    settings: Settings,
    plans: Sequence[tuple[Side, EvalPlan]],
    pairwise: list[Call] | None = None,
    *,
    batch: bool = False,
) -> DryRun:
    """Per set (and side), what a run of these plans would send, as a run with the tiers' keys
    would (without one, a set runs from recordings and sends nothing); `pairwise`: the pairwise
    judge's calls of a comparison. Counts the model's input tokens first, where it can.
    `batch`: the model's calls are priced as `--batch` sends them."""
    counting = count_tokens(store, settings, [job for _, plan in plans for job in plan.jobs])
    sets = [
        set_estimate(store, set_plan, side, batch=batch)
        for side, plan in plans
        for set_plan in plan.sets
    ]
    if pairwise:
        sets.append(SetEstimate.of(PAIRWISE, "", pairwise))
    return DryRun(tuple(sets), counting)


def set_estimate(
    store: Store, plan: SetPlan, side: Side = "", *, batch: bool = False
) -> SetEstimate:
    calls = calls_to_send(store, list(plan.jobs), keyed=True, batch=batch)
    return SetEstimate.of(plan.golden.id, side, calls)


def count_tokens(store: Store, settings: Settings, jobs: list[CaseJob]) -> str | None:
    """Count (and store) the input tokens of the model requests a run would send that are not
    counted yet; returns why some are left to the offline estimate, or None."""
    _, to_send = jobs_to_run(store, jobs, keyed=True)
    known = store.token_counts(j.request.count_key for j in to_send)
    todo: dict[str, CaseJob] = {}
    for job in to_send:
        todo.setdefault(job.request.count_key, job)
    todo = {key: job for key, job in todo.items() if key not in known}
    countable = [job for job in todo.values() if _counts_by_api(job.identity)]
    uncountable = [job for job in todo.values() if not _counts_by_api(job.identity)]
    reasons = [_why_not_counted(uncountable)] if uncountable else []
    if countable:
        rows, failure = asyncio.run(_count_all(settings, countable))
        store.save_token_counts(rows)
        if failure:
            reasons.append(failure)
    return "; ".join(reasons) or None


def _counts_by_api(identity: Identity) -> bool:
    if identity.mode != "live":
        return False
    cls = provider_class(identity.kind)
    return cls.count_input_tokens is not Provider.count_input_tokens and cls.has_key(
        identity.connection
    )


def _why_not_counted(jobs: list[CaseJob]) -> str:
    if any(not provider_class(j.identity.kind).has_key(j.identity.connection) for j in jobs):
        return "no API key to count tokens with"
    return f"provider {jobs[0].identity.kind} has no token counting"


async def _count_all(settings: Settings, jobs: list[CaseJob]) -> tuple[list[dict], str | None]:
    from promptvc.clock import now

    providers: dict[tuple, Provider] = {}
    options = provider_options(settings, settings.concurrency)
    for job in jobs:
        key = (job.identity.kind, job.identity.connection)
        if key not in providers:
            providers[key] = create_provider(job.identity.kind, options, job.identity.connection)
    try:
        counts = await asyncio.gather(
            *(
                providers[(j.identity.kind, j.identity.connection)].count_input_tokens(j.request)
                for j in jobs
            ),
            return_exceptions=True,
        )
    finally:
        for provider in providers.values():
            await provider.close()
    rows, failure = [], None
    for job, counted in zip(jobs, counts, strict=True):
        if isinstance(counted, ProviderError):
            failure = failure or str(counted)
        elif isinstance(counted, BaseException):
            raise counted
        elif counted is not None:
            rows.append(
                {
                    "key": job.request.count_key,
                    "endpoint": job.request.endpoint,
                    "model": job.request.model,
                    "input_tokens": counted,
                    "created_at": now(),
                }
            )
    return rows, failure
