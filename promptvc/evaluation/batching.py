"""Sending a run's requests through a provider's batch API (`eval --batch`): split at the API's
limits, record each batch with the run as soon as it is accepted, poll with backoff, and hand
every answer over as it is read. A re-run finds the batches still open for the requests it needs
and waits for those instead of paying twice; requests that expired, were canceled or errored for
a passing reason go again, alone, in a new batch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from promptvc.errors import CannotEvaluate, UserError
from promptvc.evaluation.request import ModelRequest
from promptvc.providers import Provider, ProviderError, RequestRejected, Response
from promptvc.providers.batchapi import BatchFailure, BatchStatus, BatchUnknown
from promptvc.store import Store
from promptvc.wording import plural

# The Message Batches API's limits: 100,000 requests or 256 MB per batch, whichever comes first
# (https://platform.claude.com/docs/en/build-with-claude/batch-processing, "Batch limitations").
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1000 * 1000  # MB read the smaller way; the envelope's few bytes fit the rest
# A request that keeps coming back expired or errored is sent at most this many times in one run.
ROUNDS = 3


@dataclass(frozen=True)
class Polling:
    """How long to wait between looks at a batch: `first` seconds, doubling, at most `cap`."""

    first: float = 1.0
    cap: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def waits(self) -> Iterator[float]:
        wait = self.first
        while True:
            yield wait
            wait = min(wait * 2, self.cap)


@dataclass(frozen=True)
class BatchMode:
    """`--batch`: how to poll, whether to drop the open batches (`--new-batch`), and where the
    progress lines go."""

    polling: Polling = field(default_factory=Polling)
    new: bool = False
    progress: Callable[[str], None] = lambda line: None


def default_polling() -> Polling:
    """The polling of `--batch` (tests shorten it)."""
    return Polling()


Answer = Response | ProviderError
# Receives answers as they are read, a few hundred at a time (one transaction each).
OnAnswers = Callable[[list[tuple[ModelRequest, Response]]], None]
SAVE_EVERY = 200


def split(requests: list[ModelRequest]) -> list[list[ModelRequest]]:
    """Consecutive batches, each within the API's count and size limits."""
    batches: list[list[ModelRequest]] = [[]]
    size = 0
    for request in requests:
        item = len(json.dumps({"custom_id": request.key, "params": request.payload()})) + 1
        if batches[-1] and (len(batches[-1]) >= MAX_REQUESTS or size + item > MAX_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(request)
        size += item
    return [batch for batch in batches if batch]


class BatchSender:
    """One provider endpoint's requests of one run, through its batch API."""

    def __init__(
        self,
        store: Store,
        provider: Provider,
        endpoint: str,
        run_id: int,
        mode: BatchMode,
        on_answers: OnAnswers,
    ):
        self.store = store
        self.provider = provider
        self.endpoint = endpoint
        self.run_id = run_id
        self.mode = mode
        self.on_answers = on_answers

    async def answers(self, requests: list[ModelRequest]) -> dict[str, Answer]:
        """{request key: its answer, or the error it ends with}. Each answer is passed to
        `on_answers` as it is read, so that an interruption keeps what was paid for."""
        by_key = {r.key: r for r in requests}
        answered: dict[str, Answer] = {}
        failures: dict[str, BatchFailure] = {}
        if self.mode.new:
            await self._drop_open(list(by_key))
        for _ in range(ROUNDS):
            pending = [key for key in by_key if key not in answered]
            if not pending:
                break
            waits = self._open_for(pending)
            carried = {key for _, keys in waits for key in keys}
            fresh = [by_key[key] for key in pending if key not in carried]
            for chunk in split(fresh):
                waits.append((await self._submit(chunk), {r.key for r in chunk}))
            for found in await asyncio.gather(*(self._collect(b, k, by_key) for b, k in waits)):
                for key, answer in found.items():
                    if isinstance(answer, BatchFailure) and answer.again:
                        failures[key] = answer
                    else:
                        answered[key] = _as_answer(answer)
        for key in by_key:
            if key not in answered:
                failure = failures.get(key)
                why = failure.message if failure else "the batch returned no result for it"
                answered[key] = ProviderError(
                    f"{why} ({plural(ROUNDS, 'batch')} tried; run again to send it again)",
                    unreachable=True,
                )
        return answered

    def _open_for(self, keys: list[str]) -> list[tuple[str, set[str]]]:
        """The open batches that carry these requests, each request waited for in one of them."""
        taken: set[str] = set()
        found = []
        for batch_id, carried in self.store.open_batches(self.endpoint, keys).items():
            mine = set(carried) - taken
            taken |= mine
            if mine:
                found.append((batch_id, mine))
                self.mode.progress(f"batch {batch_id} picked up: {plural(len(mine), 'request')}")
        return found

    async def _submit(self, chunk: list[ModelRequest]) -> str:
        batch_id = await self.provider.submit_batch(chunk)
        self.store.save_batch(
            batch_id, self.run_id, self.provider.name, self.endpoint, [r.key for r in chunk]
        )
        self.mode.progress(f"batch {batch_id} submitted: {plural(len(chunk), 'request')}")
        return batch_id

    async def _collect(
        self, batch_id: str, keys: set[str], by_key: dict[str, ModelRequest]
    ) -> dict[str, Response | BatchFailure]:
        """Wait for the batch to end, then read its results for `keys` (an answer is handed over
        as it is read). The batch is closed only once every request it carries is read: another
        run may want the rest."""
        await self._wait(batch_id)
        found: dict[str, Response | BatchFailure] = {}
        unsaved: list[tuple[ModelRequest, Response]] = []
        try:
            async for key, answer in self.provider.batch_results(batch_id):
                if key not in keys or key in found:
                    continue
                found[key] = answer
                if isinstance(answer, Response):
                    unsaved.append((by_key[key], answer))
                if len(unsaved) >= SAVE_EVERY:
                    self.on_answers(unsaved)
                    unsaved = []
        finally:  # what was read is paid for, whatever stopped the reading
            if unsaved:
                self.on_answers(unsaved)
        self.store.read_from_batch(batch_id, keys)
        return found

    async def _wait(self, batch_id: str) -> BatchStatus:
        waits = self.mode.polling.waits()
        while True:
            try:
                status = await self.provider.batch_status(batch_id)
            except BatchUnknown as exc:
                raise UserError(
                    f"{exc}; run again with --new-batch to forget it and send its requests "
                    "in a new batch"
                ) from None
            if status.ended:
                return status
            wait = next(waits)
            done = status.succeeded + status.failed
            self.mode.progress(
                f"batch {batch_id}: {done:,} of {plural(status.total, 'request')} processed; "
                f"looking again in {wait:g} s"
            )
            await self.mode.polling.sleep(wait)

    async def _drop_open(self, keys: list[str]) -> None:
        """--new-batch: cancel the open batches (what they finished is paid for, but nothing
        more is processed) and forget them."""
        for batch_id in self.store.open_batches(self.endpoint, keys):
            try:
                await self.provider.cancel_batch(batch_id)
            except ProviderError:
                pass  # unknown to the API, or already ended: nothing left to stop
            self.store.close_batch(batch_id, "dropped")
            self.mode.progress(f"batch {batch_id} canceled and forgotten (--new-batch)")


def _as_answer(answer: Response | BatchFailure) -> Answer:
    """An answer, or the error of a request that sending again would not answer: a malformed
    answer is the provider's fault (exit 3), an invalid request the user's (exit 2)."""
    if isinstance(answer, Response):
        return answer
    if answer.kind == "malformed":
        return ProviderError(answer.message, unreachable=True)
    return RequestRejected(answer.message)


def batch_failed(exc: ProviderError) -> CannotEvaluate:
    """A batch API call that failed after retries: what was answered is stored, the run is not
    complete, and the open batch is picked up by the next run."""
    return CannotEvaluate(
        f"the batch API failed: {exc}; answers already read are stored, and running again "
        "picks up the submitted batch"
    )
