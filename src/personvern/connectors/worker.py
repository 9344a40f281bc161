"""The outbox worker: claim due rows, hand each to its connector outside any transaction, record the outcome.

A row is claimed (leased) in one short transaction, delivered with no transaction open, and its outcome
recorded in another. A worker killed between delivering and recording leaves the row leased; once the
lease runs out another worker sends it again with the same idempotency key (LINK `refId`), so the
receiver can tell the copy from a new message. Nothing is lost, and nothing is sent twice unrecognisably.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from personvern.connectors import Connector
from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.domain.outbox import Draw, OutboxRow, RetryPolicy
from personvern.services import admin, messaging, outbox, review
from personvern.services.context import Context
from personvern.services.ports import AuditCheckpoints

BATCH = 5  # small: a claimed row waits for the ones before it in the batch
# Longer than a batch can take (5 rows, each at worst 5 s to connect and 15 s per read and write). A worker
# that overruns it anyway only risks a copy under the same refId: its late record of a failure is ignored.
LEASE = timedelta(minutes=5)
WAIT = timedelta(minutes=1)  # how soon a row waiting for credentials is looked at again
DAY = timedelta(days=1)  # how often the audit chain's head is checkpointed


@dataclass
class Tally:
    """What one pass did, row by row."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    waiting: int = 0
    skipped: int = 0  # recorded by another worker meanwhile (its lease had run out)
    texts_dropped: int = 0  # message texts past the policy's period, forgotten in this pass
    errors: list[str] = field(default_factory=list)  # distinct reasons, for the operator (no personal data)
    swept: int = 0  # subjects archived or erased by the daily retention sweep in this pass
    reminders: list[str] = field(default_factory=list)  # e.g. an annual review not signed in time
    audit_checkpoint: str | None = None  # the daily signed checkpoint of the audit chain's head, when written

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead + self.waiting + self.skipped

    def note(self, error: str) -> None:
        if error not in self.errors:
            self.errors.append(error)

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead
        self.waiting += other.waiting
        self.skipped += other.skipped
        self.texts_dropped += other.texts_dropped
        for error in other.errors:
            self.note(error)
        self.swept += other.swept
        self.reminders += [r for r in other.reminders if r not in self.reminders]
        self.audit_checkpoint = other.audit_checkpoint or self.audit_checkpoint


class Worker:
    def __init__(
        self,
        ctx: Context,
        connectors: Mapping[str, Connector],
        policy: RetryPolicy,
        draw: Draw = random.random,
        batch: int = BATCH,
        lease: timedelta = LEASE,
        retention: bool = False,
        checkpoints: AuditCheckpoints | None = None,
    ) -> None:
        self._ctx = ctx
        self._connectors = connectors
        self._policy = policy
        self._draw = draw
        self._batch = batch
        self._lease = lease
        self._retention = retention  # sweep retention once a day, and remind of the annual review
        self._checkpoints = checkpoints  # checkpoint the audit chain's head once a day, outside the database

    def run_once(self) -> Tally:
        """Deliver every row due now, batch by batch; a row that fails is not tried again in the same pass.

        Rows are taken only if due by the pass's start: every outcome but delivery moves a row's next
        attempt past that instant, so the pass ends even when every attempt fails.
        """
        start = self._ctx.clock.now()
        tally = Tally(texts_dropped=messaging.forget_old_texts(self._ctx))
        if self._retention:
            duty = review.daily(self._ctx)
            tally.swept = duty.swept.done if duty.swept is not None else 0
            tally.reminders = duty.reminders
        if self._checkpoints is not None:
            # Into the file beside the key and into this output: a restored older database shows (audit verify).
            tally.audit_checkpoint = admin.checkpoint_audit(self._ctx.uow, self._checkpoints, self._ctx.clock, DAY)
        while True:
            rows = outbox.claim_due(self._ctx, self._batch, self._lease, due_by=start)
            if not rows:
                return tally
            for row in rows:
                tally.add(self.deliver(row))

    def deliver(self, row: OutboxRow) -> Tally:
        tally = Tally()
        connector = self._connectors.get(row.kind)
        if connector is None:
            return self._wait(row, f"no connector delivers {row.kind!r} rows", tally)
        if row.personal is None:
            return self._fail(row, "nothing to send: the row's personal data is gone (erased)", tally, permanent=True)
        try:
            result = connector.deliver(row)
        except WaitingForCredentials as exc:
            return self._wait(row, exc.reason, tally)
        except TemporaryFailure as exc:
            return self._fail(row, exc.reason, tally, retry_after=exc.retry_after)
        except PermanentFailure as exc:
            return self._fail(row, exc.reason, tally, permanent=True)
        except Exception as exc:  # a bug in one connector must not stop the queue; the row is retried, then dead
            return self._fail(row, f"unexpected {type(exc).__name__} in the {row.kind} connector", tally)
        if outbox.record_delivered(self._ctx, row, result):
            tally.delivered += 1
        else:
            tally.skipped += 1
        return tally

    def _wait(self, row: OutboxRow, reason: str, tally: Tally) -> Tally:
        tally.note(reason)
        if outbox.record_waiting(self._ctx, row, reason, WAIT):
            tally.waiting += 1
        else:
            tally.skipped += 1
        return tally

    def _fail(
        self, row: OutboxRow, reason: str, tally: Tally, *, retry_after: float | None = None, permanent: bool = False
    ) -> Tally:
        tally.note(reason)
        decision = outbox.record_failure(
            self._ctx, row, reason, self._policy, self._draw, retry_after=retry_after, permanent=permanent
        )
        if decision is None:
            tally.skipped += 1
        elif decision.dead:
            tally.dead += 1
        else:
            tally.retrying += 1
        return tally
