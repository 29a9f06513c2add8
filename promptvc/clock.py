"""The time stamps promptvc stores: UTC, ISO 8601, to the millisecond.

Its own module so that scoring (which stamps results) need not import the store."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
