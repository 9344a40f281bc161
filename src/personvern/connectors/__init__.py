"""Connectors to the outside world (LINK Mobility for SMS) and the outbox worker that drives them."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from personvern.domain.outbox import OutboxRow


class Connector(Protocol):
    """Hands one outbox row to its receiver and returns what the receiver said (ids and codes, never personal data).

    Raises one of `connectors.errors`; the row's id is the idempotency key, sent along so that the receiver
    can recognise a row it has seen before (a worker killed after sending, before recording).
    """

    kind: str

    def deliver(self, row: OutboxRow) -> dict[str, Any]: ...


def retry_after(header: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or as an HTTP date (RFC 9110 §10.2.3); None when absent or unreadable."""
    if not header:
        return None
    value = header.strip()
    if value.isdecimal() and len(value) < 10:  # a longer one is no number of seconds anyone means
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
