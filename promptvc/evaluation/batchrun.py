"""A run's model requests through the providers' batch APIs (`eval --batch`), before its cases
are graded: grouped by provider endpoint, each group sent by a `BatchSender`, every answer paid
for at the batch discount and stored as it is read. The cases are then graded from these answers
as from any other (judge calls are sent one by one, as in any run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from promptvc.errors import CannotEvaluate
from promptvc.evaluation.batching import BatchMode, BatchSender, batch_failed
from promptvc.evaluation.plan import CaseJob
from promptvc.evaluation.prices import BATCH, Price
from promptvc.evaluation.request import ModelRequest
from promptvc.evaluation.responses import RunStats, charge, response_row
from promptvc.providers import Identity, Provider, ProviderError, Response
from promptvc.store import Store

# An answer a batch brought in this run (response and cost), or the error its request ended with.
Batched = tuple[Response, float | None] | ProviderError


class BatchRun:
    """One run's batches: the answers they brought, by request key."""

    def __init__(
        self, store: Store, mode: BatchMode, run_id: int, stats: RunStats, *, replace: bool
    ):
        """`replace`: an answer replaces the recorded one (--no-cache)."""
        self.store = store
        self.mode = mode
        self.run_id = run_id
        self.stats = stats
        self.replace = replace
        self.answers: dict[str, Batched] = {}
        self._unbatched: set[str] = set()  # providers without a batch API, warned about once

    async def send(
        self,
        jobs: list[CaseJob],
        provider_of: Callable[[Identity], Provider],
        deadline: float | None,
    ) -> dict[str, Batched]:
        """The answers to these jobs' model requests (those nothing recorded answers, within
        their token budget), through each endpoint's batch API."""
        try:
            async with asyncio.timeout_at(deadline):
                for group in self._groups(jobs, provider_of):
                    sender = BatchSender(
                        self.store,
                        group.provider,
                        group.endpoint,
                        self.run_id,
                        self.mode,
                        partial(self._paid, group.prices),
                    )
                    found = await sender.answers(list(group.requests.values()))
                    self.answers.update(
                        (key, a) for key, a in found.items() if isinstance(a, ProviderError)
                    )
        except TimeoutError:
            raise CannotEvaluate(
                "the deadline passed while the batch was processing ([gate] deadline); "
                "running again picks it up"
            ) from None
        except ProviderError as exc:
            raise batch_failed(exc) from None
        return self.answers

    def _groups(
        self, jobs: list[CaseJob], provider_of: Callable[[Identity], Provider]
    ) -> list[_BatchGroup]:
        """Per provider endpoint, the requests a batch would carry: the jobs' of providers that
        send and record answers. A provider without a batch API is warned about."""
        groups: dict[tuple[str, str], _BatchGroup] = {}
        for job in jobs:
            provider = provider_of(job.identity)
            if not (provider.sends and provider.recorded):
                continue
            if not provider.batches:
                self._warn_unbatched(provider.name)
                continue
            where = (provider.name, job.identity.endpoint)
            group = groups.setdefault(where, _BatchGroup(provider, job.identity.endpoint))
            group.requests[job.request.key] = job.request
            group.prices[job.request.key] = job.price
        return list(groups.values())

    def _paid(
        self, prices: dict[str, Price | None], answers: list[tuple[ModelRequest, Response]]
    ) -> None:
        """Answers read from a batch: paid for at the batch discount, stored at once."""
        rows = []
        for request, response in answers:
            cost = charge(self.stats, request, response, prices[request.key], BATCH)
            rows.append(response_row(request, response, cost, "batch"))
            self.answers[request.key] = (response, cost)
        self.store.save_responses(rows, replace=self.replace)

    def _warn_unbatched(self, provider: str) -> None:
        if provider not in self._unbatched:
            self._unbatched.add(provider)
            self.mode.progress(
                f"warning: the {provider} provider has no batch API; its requests are sent one by one"
            )


@dataclass
class _BatchGroup:
    provider: Provider
    endpoint: str
    requests: dict[str, ModelRequest] = field(default_factory=dict)
    prices: dict[str, Price | None] = field(default_factory=dict)
