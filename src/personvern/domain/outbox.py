"""The outbox's rules: a row's states, when to try again (exponential back-off, full jitter), when to give up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

# How `last_error` starts on a dead row that was stopped on purpose rather than given up on: a message no longer
# allowed when it fell due (withdrawn, objected, restricted), or a share with a processor called off because its
# basis went before delivery. Nothing is wrong with such a row and nothing is left to send.
CANCELLED = "cancelled: "
CALLED_OFF = "called off: "
STOPPED = (CANCELLED, CALLED_OFF)


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"  # the receiver has it; personal data removed from the row
    DEAD = "dead"  # given up on: visible in `outbox list --dead` until retried


@dataclass(frozen=True)
class OutboxRow:
    """One side effect outside the database. Its id is also the idempotency key the receiver sees (LINK `refId`).

    `public` holds what may stay after delivery (ids, the purpose); `personal` what the receiver needs
    (a phone number, a text). The store keeps `personal` sealed and drops it once the row is delivered;
    it is None whenever it was not opened (listing) or is gone.
    """

    id: str
    kind: str
    subject_id: str | None
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    public: Mapping[str, Any]
    personal: Mapping[str, Any] | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    result: Mapping[str, Any] | None = None
    delivered_at: datetime | None = None
    # Claimed after another worker's lease ran out with nothing recorded: that worker may have delivered it
    # before it died, so a connector whose receiver has no idempotency key looks before it acts again.
    resumed: bool = False


Draw = Callable[[], float]
"""A random number in [0, 1): `random.random`, or a fixed value in tests."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a row is tried.

    The delay before the next attempt is drawn uniformly between `floor` and the exponential ceiling
    `base * 2**(attempts - 1)`, itself capped ("full jitter": many workers retrying after one outage
    spread out instead of hitting the recovering receiver together). A receiver's Retry-After is a
    lower bound on the delay, honoured up to `retry_after_cap` (a larger value is more likely a
    misconfiguration than a plan, and would hide the row for too long).
    """

    max_attempts: int = 10
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    floor: timedelta = timedelta(seconds=1)  # never due again at the same instant it failed
    retry_after_cap: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not timedelta(0) < self.floor <= self.base <= self.cap:
            raise ValueError("need 0 < floor <= base <= cap")

    def backoff(self, attempts: int, draw: Draw) -> timedelta:
        """The delay after the `attempts`-th failed attempt (1 for the first), before any Retry-After."""
        doublings = max(attempts - 1, 0)
        # Compare in floating point first: base * 2**doublings overflows a timedelta long before attempts do.
        if self.base.total_seconds() * 2.0 ** min(doublings, 1000) >= self.cap.total_seconds():
            ceiling = self.cap
        else:
            ceiling = self.base * (1 << doublings)
        fraction = min(max(draw(), 0.0), 1.0)
        return max(self.floor, ceiling * fraction)

    def delay(self, attempts: int, draw: Draw, retry_after: float | None = None) -> timedelta:
        delay = self.backoff(attempts, draw)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(timedelta(seconds=retry_after), self.retry_after_cap))
        return delay


@dataclass(frozen=True)
class Decision:
    """What happens to a row after a failed attempt."""

    attempts: int
    dead: bool
    next_attempt_at: datetime | None  # None when dead
    error: str  # for `last_error`: never personal data


def after_failure(
    policy: RetryPolicy,
    attempts_before: int,
    now: datetime,
    error: str,
    draw: Draw,
    *,
    retry_after: float | None = None,
    permanent: bool = False,
) -> Decision:
    """Count the attempt; give up when it cannot succeed or after `max_attempts`, otherwise schedule the next."""
    attempts = attempts_before + 1
    if permanent:
        return Decision(attempts, True, None, f"refused, not retried: {error}")
    if attempts >= policy.max_attempts:
        return Decision(attempts, True, None, f"gave up after {attempts} attempts; last error: {error}")
    return Decision(attempts, False, now + policy.delay(attempts, draw, retry_after), error)
