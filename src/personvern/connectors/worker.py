"""The outbox worker: claim due rows, hand each to its connector outside any transaction, record the outcome.

A row is claimed (leased) in one short transaction, delivered with no transaction open, and its outcome
recorded in another. A worker killed between delivering and recording leaves the row leased; once the
lease runs out another worker sends it again with the same idempotency key (LINK `refId`), so the
receiver can tell the copy from a new message. Nothing is lost, and nothing is sent twice unrecognisably.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from personvern.connectors import Connector
from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.domain.outbox import Draw, OutboxRow, RetryPolicy
from personvern.services import admin, agreements, confirmations, keys, messaging, outbox, review
from personvern.services.context import Context
from personvern.services.ports import AuditCheckpoints
from personvern.services.sweep import Unattended

BATCH = 5  # small: a claimed row waits for the ones before it in the batch
# Longer than a batch can take (5 rows, each at worst 5 s to connect and 15 s per read and write). A worker
# that overruns it anyway only risks a copy under the same refId: its late record of a failure is ignored.
LEASE = timedelta(minutes=5)
HOLD = timedelta(minutes=1)  # how soon a row a rule holds back for now (a restriction) is looked at again
DAY = timedelta(days=1)  # how often the audit chain's head is checkpointed


@dataclass
class Tally:
    """What one pass did, row by row."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    waiting: int = 0  # rows that cannot go yet: no credentials for their kind, or held back by a rule
    skipped: int = 0  # recorded by another worker meanwhile (its lease had run out)
    cancelled: int = 0  # no longer allowed when due (consent withdrawn, an objection, a restriction): not sent
    texts_dropped: int = 0  # message texts past the policy's period, forgotten in this pass
    errors: list[str] = field(default_factory=list)  # distinct reasons, for the operator (no personal data)
    swept: int = 0  # subjects archived or erased by the daily retention sweep in this pass
    # The daily sweep did nothing: it waits for the CEO's `retention run` (over the policy's [unattended]
    # limit, or never confirmed); said on every pass until then.
    retention_waiting: Unattended | None = None
    reminders: list[str] = field(default_factory=list)  # e.g. an annual review not signed in time
    pending: int = 0  # rows still pending after the pass
    next_attempt_at: datetime | None = None  # when the next of them is due, if later than the pass's start
    waiting_kinds: dict[str, str] = field(default_factory=dict)  # kinds whose connector cannot deliver, and why
    audit_checkpoint: str | None = None  # the daily signed checkpoint of the audit chain's head, when written
    reconciled: str | None = None  # the daily reconciliation of HubSpot with the register, in one line

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead + self.waiting + self.skipped + self.cancelled

    @property
    def progressed(self) -> int:
        """Rows whose state moved on: all handled rows but those only waiting."""
        return self.handled - self.waiting

    def note(self, error: str) -> None:
        if error not in self.errors:
            self.errors.append(error)

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead
        self.waiting += other.waiting
        self.skipped += other.skipped
        self.cancelled += other.cancelled
        self.waiting_kinds.update(other.waiting_kinds)
        self.texts_dropped += other.texts_dropped
        for error in other.errors:
            self.note(error)
        self.swept += other.swept
        self.retention_waiting = other.retention_waiting  # what the latest pass found, as for `pending`
        self.reminders += [r for r in other.reminders if r not in self.reminders]
        # What is left is what the latest pass left.
        self.pending, self.next_attempt_at = other.pending, other.next_attempt_at
        self.audit_checkpoint = other.audit_checkpoint or self.audit_checkpoint
        self.reconciled = other.reconciled or self.reconciled


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
        stopping: Callable[[], bool] = lambda: False,
        reconcile: Callable[[], str | None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._connectors = connectors
        self._policy = policy
        self._draw = draw
        self._batch = batch
        self._lease = lease
        self._retention = retention  # sweep retention once a day, and remind of the annual review
        self._checkpoints = checkpoints  # checkpoint the audit chain's head once a day, outside the database
        self._stopping = stopping  # asked between batches: SIGTERM ends a pass after the rows already claimed
        self._reconcile = reconcile  # once a day: compare what HubSpot holds with the register (findings only)

    def run_once(self) -> Tally:
        """Deliver every row due now, batch by batch; a row that fails is not tried again in the same pass.

        Rows are taken only if due by the pass's start: every outcome but delivery moves a row's next
        attempt past that instant, so the pass ends even when every attempt fails.

        A kind whose connector cannot deliver at all (no credentials) is passed over for the rest of the pass;
        its rows stay due, so the first pass after the credentials are set delivers them.
        """
        start = self._ctx.clock.now()
        tally = Tally(texts_dropped=messaging.forget_old_texts(self._ctx))
        waiting = None
        if self._retention:
            duty = review.daily(self._ctx)
            tally.swept = duty.swept.done if duty.swept is not None else 0
            if duty.swept is not None and duty.swept.waiting is None:
                # The day's sweep ran: the keys whose owner is gone go too (the key store is apart: a crash
                # between its commit and the register's can leave one behind).
                keys.sweep(self._ctx)
            waiting = duty.waiting
            tally.reminders = duty.reminders
            # Art. 19 and 28(3): a recipient's confirmation overdue, a processor agreement missing or due.
            tally.reminders += confirmations.reminders(self._ctx) + agreements.reminders(self._ctx)
        if self._checkpoints is not None:
            # Into the file beside the key and into this output: a restored older database shows (audit verify).
            tally.audit_checkpoint = admin.checkpoint_audit(self._ctx.uow, self._checkpoints, self._ctx.clock, DAY)
        counted: Counter[str] = Counter()
        while not self._stopping():
            rows = outbox.claim_due(self._ctx, self._batch, self._lease, due_by=start, skip_kinds=tally.waiting_kinds)
            if not rows:
                break
            for row in rows:
                done = self.deliver(row)
                counted[row.kind] += done.waiting if row.kind in done.waiting_kinds else 0
                tally.add(done)
        for kind, reason in tally.waiting_kinds.items():
            # The kind's other due rows were passed over: they say why, and count as waiting too.
            tally.waiting += max(outbox.record_kind_waiting(self._ctx, kind, reason) - counted[kind], 0)
        if self._retention and self._reconcile is not None:
            # After the deliveries, so that a day's first pass sends first and then looks at what HubSpot holds.
            tally.reconciled = self._reconcile()
        left = outbox.queue_state(self._ctx, start)
        tally.pending, tally.next_attempt_at = left.pending, left.next_attempt_at
        tally.retention_waiting = waiting  # as what is left: the rows' tallies merged above carry none
        return tally

    def deliver(self, row: OutboxRow) -> Tally:
        tally = Tally()
        connector = self._connectors.get(row.kind)
        if connector is None:
            return self._wait_for_connector(row, f"no connector delivers {row.kind!r} rows")
        if row.personal is None:
            return self._fail(row, "nothing to send: the row's personal data is gone (erased)", tally, permanent=True)
        # Asked again just before sending: consent may have been withdrawn, an objection made or processing
        # restricted since the row was queued (Art. 7(3), 21(3), 18).
        verdict = outbox.clear_for_delivery(self._ctx, row)
        if verdict is None:
            tally.skipped += 1
            return tally
        if verdict.cancel is not None:
            tally.cancelled += 1
            return tally
        if verdict.hold is not None:
            return self._wait(row, verdict.hold, tally)
        try:
            result = connector.deliver(row)
        except WaitingForCredentials as exc:
            return self._wait_for_connector(row, exc.reason)
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
        if outbox.record_waiting(self._ctx, row, reason, HOLD):
            tally.waiting += 1
        else:
            tally.skipped += 1
        return tally

    def _wait_for_connector(self, row: OutboxRow, reason: str) -> Tally:
        """No connector, or one without credentials: the row stays due (no wait, no attempt counted), and the
        pass leaves the rest of its kind alone; they go on the first pass that finds the connector ready."""
        tally = Tally(waiting_kinds={row.kind: reason})
        tally.note(reason)
        if outbox.record_waiting(self._ctx, row, reason, timedelta(0)):
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
