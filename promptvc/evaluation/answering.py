"""Where a run's requests are answered: an answer a batch brought, a recorded response, or the
provider (one per endpoint, each with its own concurrency). A response fetched now is priced,
counted in the run's figures and recorded as soon as it arrives: it was paid for, and a kill must
not lose it."""

from __future__ import annotations

from collections.abc import Callable

from promptvc.evaluation.batchrun import Batched
from promptvc.evaluation.plan import CaseJob
from promptvc.evaluation.prices import Price, price_for
from promptvc.evaluation.request import ModelRequest, recording_of
from promptvc.evaluation.responses import RunStats, charge, response_from_row, response_row
from promptvc.providers import (
    Identity,
    Provider,
    ProviderError,
    ProviderOptions,
    Response,
    create_provider,
    provider_class,
)
from promptvc.settings import Settings
from promptvc.store import Store

Answered = tuple[Response, float | None, bool]  # the response, its cost, whether fetched now


class Answerer:
    def __init__(
        self, store: Store, settings: Settings, concurrency: int, stats: RunStats, *, no_cache: bool
    ):
        """`no_cache`: nothing recorded answers a request, and a fresh answer replaces its record."""
        self.store = store
        self.options = provider_options(settings, concurrency)
        self.stats = stats
        self.no_cache = no_cache
        self.records: dict[str, dict] = {}  # the cases' own requests' records, looked up at once
        self.batched: dict[str, Batched] = {}
        self._providers: dict[tuple, Provider] = {}

    def look_up(self, jobs: list[CaseJob]) -> None:
        """Read the recorded responses to these jobs' requests in one query per kind of lookup,
        each found as its provider finds them."""
        if self.no_cache:
            return
        by_ask: list[CaseJob] = []
        by_request: list[CaseJob] = []
        for job in jobs:
            if not provider_class(job.identity.provider).recorded:
                continue
            kind = provider_class(job.identity.provider).recordings_by
            (by_ask if kind == "ask" else by_request).append(job)
        stored = self.store.responses_for([j.request.key for j in by_request])
        found = {
            j.request.key: row
            for j in by_request
            if (row := recording_of(stored.get(j.request.key), j.request)) is not None
        }
        asked = self.store.responses_asked([j.request.ask_key for j in by_ask])
        self.records = found | {
            j.request.key: asked[j.request.ask_key] for j in by_ask if j.request.ask_key in asked
        }

    async def respond(
        self,
        request: ModelRequest,
        job: CaseJob,
        *,
        remember: bool = True,
        identity: Identity | None = None,
        price: Price | None = None,
    ) -> Answered:
        """A request of `job` answered by `identity`'s provider (the judge's for a judge call; else
        the job's), priced at `price` (a route's tier) or the job's or the model's. `remember`:
        record the answer (a judge's is recorded only once its reply parses)."""
        identity = identity or job.identity
        provider = self.provider(identity)
        if not provider.recorded:
            return await provider.complete(request), 0.0, False
        batched = self.batched.get(request.key) if request is job.request else None
        if isinstance(batched, ProviderError):
            raise batched
        if batched is not None:
            return batched[0], batched[1], True
        row = None if self.no_cache else self._recorded(request, job, provider)
        if row is None:
            try:
                response = await provider.complete(request, self._recorded_meanwhile(request))
            except _RecordedMeanwhile as found:
                row = found.row
        if row is not None:
            return response_from_row(row), row["cost"], False
        if price is None:
            price = _price(request, job, identity)
        cost = charge(self.stats, request, response, price)
        if remember:
            self.remember(request, response, cost)
        return response, cost, True

    def remember(self, request: ModelRequest, response: Response, cost: float | None) -> None:
        self.store.save_responses(
            [response_row(request, response, cost, "live")], replace=self.no_cache
        )

    def free(self, identity: Identity, request: ModelRequest, job: CaseJob) -> bool:
        """Whether an answer costs nothing now: an offline provider, or a recorded answer."""
        provider = self.provider(identity)
        if not provider.sends:
            return True
        return (
            provider.recorded
            and not self.no_cache
            and self._recorded(request, job, provider) is not None
        )

    def provider(self, identity: Identity) -> Provider:
        name = identity.provider
        key = (name, identity.connection) if name == identity.kind else (name,)
        if key not in self._providers:
            self._providers[key] = create_provider(name, self.options, identity.connection)
        return self._providers[key]

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()

    def _recorded(self, request: ModelRequest, job: CaseJob, provider: Provider) -> dict | None:
        if request is job.request:  # the case requests were all looked up in one query
            return self.records.get(request.key)
        if provider.recordings_by == "ask":
            return self.store.responses_asked([request.ask_key]).get(request.ask_key)
        return recording_of(self.store.response(request.key), request)

    def _recorded_meanwhile(self, request: ModelRequest) -> Callable[[], None] | None:
        if self.no_cache:
            return None

        def check() -> None:  # another run may have paid for this answer since this one started
            row = recording_of(self.store.response(request.key), request)
            if row is not None:
                raise _RecordedMeanwhile(row)

        return check


class _RecordedMeanwhile(Exception):
    def __init__(self, row: dict):
        super().__init__(row["key"])
        self.row = row


def _price(request: ModelRequest, job: CaseJob, identity: Identity) -> Price | None:
    """The job's price for its own request; a judge's, the judge model's."""
    if request is job.request:
        return job.price
    return price_for(request.model, None, identity.known_price(request.model))


def provider_options(settings: Settings, concurrency: int) -> ProviderOptions:
    return ProviderOptions(
        concurrency=concurrency,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        retry_after_cap=settings.retry_after_cap,
        deadline=settings.request_deadline,
    )
