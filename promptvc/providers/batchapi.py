"""What a provider with a batch API (the Messages API's Message Batches) says about a batch: its
status while it is processing, and per request an answer or why there is none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptvc.providers import ProviderError

# A request is named in its batch by its cache key (a sha256 in hex: the API's custom_id takes
# 1-64 letters, digits, `-` and `_`), so a result is matched to its request by content.


@dataclass(frozen=True)
class BatchStatus:
    id: str
    ended: bool
    processing: int
    succeeded: int
    failed: int  # errored, expired or canceled

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.failed


@dataclass(frozen=True)
class BatchFailure:
    """A request of a batch that has no answer: it errored, expired (not processed within 24 h),
    was canceled, or came back as something that is not a message (malformed). `again`: sending
    it again may answer it (anything but the request's own fault, such as an invalid request)."""

    kind: Literal["errored", "expired", "canceled", "malformed"]
    message: str
    again: bool


class BatchUnknown(ProviderError):
    """The API no longer knows a batch id (404): deleted, or made with another key or workspace."""

    def __init__(self, batch_id: str, detail: str):
        super().__init__(f"the API does not know batch {batch_id} ({detail})", unreachable=False)
        self.batch_id = batch_id
