"""The outbox's use cases: enqueue with its cause, list, retry a dead row; claim rows and record what delivery did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.errors import Conflict, NotFound
from personvern.domain.outbox import Decision, Draw, OutboxRow, OutboxState, RetryPolicy, after_failure
from personvern.domain.sealed import FORGOTTEN
from personvern.domain.sms import FINAL_STATUSES, Message, MessageStatus, next_status
from personvern.services import sealed
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork

# Who receives each kind of row: the recipient as the policy names it (Art. 13(1)(e), Art. 30(1)(d)).
RECIPIENTS = {
    "sms": "linkmobility",
    "hubspot.upsert": "hubspot",
    "hubspot.unsubscribe": "hubspot",
    "hubspot.delete": "hubspot",
}
STATUS_TEXT = 200  # the width of messages.status_text


def enqueue(
    ctx: Context,
    uow: UnitOfWork,
    kind: str,
    subject_id: str | None,
    public: Mapping[str, Any],
    personal: Mapping[str, Any],
    due: datetime | None = None,
) -> OutboxRow:
    """Add a row inside the caller's transaction: it commits with its cause, or neither happens.

    `due`: not to be tried before then (default: at once).
    """
    now = ctx.clock.now()
    first = now if due is None else max(due, now)
    row = OutboxRow(new_id(), kind, subject_id, OutboxState.PENDING, 0, first, now, dict(public), dict(personal))
    uow.outbox.enqueue(row)
    return row


@dataclass(frozen=True)
class OutboxListing:
    total: int
    rows: list[OutboxRow]
    # Dead rows listed that still hold their personal part: when it goes, and what is then left to do by hand.
    personal_until: dict[str, datetime] = field(default_factory=dict)
    by_hand: dict[str, str] = field(default_factory=dict)


def list_outbox(ctx: Context, dead_only: bool = False, everything: bool = False, limit: int = 100) -> OutboxListing:
    """Rows that still need something (pending and dead), only the dead, or every row; never a personal value."""
    ctx.actor.require(Permission.OUTBOX_READ)
    if dead_only:
        states = [OutboxState.DEAD]
    elif everything:
        states = list(OutboxState)
    else:
        states = [OutboxState.PENDING, OutboxState.DEAD]
    with ctx.uow() as uow:
        rows = uow.outbox.in_states(states, limit)
        listing = OutboxListing(uow.outbox.count(states), rows)
        if any(r.state is OutboxState.DEAD for r in rows):
            shown = {r.id: r for r in rows}
            for row_id, end in sealed.ends_of_dead(ctx, uow).items():
                if row_id in shown:
                    listing.personal_until[row_id] = end.at
                    todo = sealed.by_hand(ctx, shown[row_id])
                    if todo is not None:
                        listing.by_hand[row_id] = todo
        return listing


def retry_dead(ctx: Context, row_id: str) -> OutboxRow:
    """Put a dead row back in the queue with a fresh count of attempts (after the cause was fixed)."""
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = uow.outbox.get(row_id)
        if row is None:
            raise NotFound(f"no outbox row with id {row_id}")
        forgotten = row.public.get(FORGOTTEN)
        if forgotten is not None:
            raise Conflict(
                f"outbox row {row_id} lost its personal part on {forgotten} (the policy's [undelivered] time was "
                "over): there is nothing left to send; do what it was to do by hand"
            )
        if row.state is not OutboxState.DEAD or not uow.outbox.revive(row_id, now):
            raise Conflict(f"outbox row {row_id} is {row.state.value}; only a dead row can be retried")
        message = uow.messages.for_outbox(row_id)
        if message is not None and message.status is MessageStatus.FAILED and message.result_code is None:
            # Failed by our own outbox, not reported failed by the operator: it is on its way again.
            uow.messages.set_status(message.id, MessageStatus.PENDING, now, status_text="queued again")
        ctx.record(uow, AuditEvent("outbox.retry", row.subject_id, _purpose(row), {"row": row_id, "kind": row.kind}))
        uow.commit()
    return replace(row, state=OutboxState.PENDING, attempts=0, next_attempt_at=now, lease_until=None)


def claim_due(ctx: Context, limit: int, lease: timedelta, due_by: datetime | None = None) -> list[OutboxRow]:
    """Lease up to `limit` due rows for delivery, in a transaction of their own (committed before delivering)."""
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        rows = uow.outbox.claim(due_by or now, now, now + lease, limit)
        uow.commit()
    return rows


def _purpose(row: OutboxRow) -> str | None:
    purpose = row.public.get("purpose")
    return purpose if isinstance(purpose, str) else None


def _subject(row: OutboxRow) -> str | None:
    """The row's subject; a row that must outlive its subject (telling a processor to erase them) names it in
    its public part instead, so that its delivery is still audited under the person's pseudonymous id."""
    if row.subject_id is not None:
        return row.subject_id
    linked = row.public.get("subject")
    return linked if isinstance(linked, str) else None


def _set_message(
    uow: UnitOfWork,
    message: Message,
    status: MessageStatus,
    at: datetime,
    *,
    vendor_message_id: str | None = None,
    result_code: int | None = None,
    status_text: str | None = None,
) -> None:
    """Move a message's status forward; a final status (from a delivery report that came first) stays."""
    if next_status(message.status, status) is not status:
        uow.messages.set_status(
            message.id,
            message.status,
            at,
            vendor_message_id=vendor_message_id,
            result_code=message.result_code,
            status_text=message.status_text,
        )
        return
    text = None if status_text is None else status_text[:STATUS_TEXT]
    uow.messages.set_status(
        message.id, status, at, vendor_message_id=vendor_message_id, result_code=result_code, status_text=text
    )


def record_delivered(ctx: Context, row: OutboxRow, result: Mapping[str, Any]) -> bool:
    """The receiver has the row: drop its personal part, keep the receiver's answer. False if already recorded."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not uow.outbox.mark_delivered(row.id, now, dict(result)):
            return False  # another worker recorded it first (its lease had expired); the receiver de-duplicates
        message = uow.messages.for_outbox(row.id)
        if message is not None:
            code = result.get("resultCode")
            vendor = result.get("messageId")
            _set_message(
                uow,
                message,
                MessageStatus.QUEUED if code == 1005 else MessageStatus.SENT,
                now,
                vendor_message_id=vendor if isinstance(vendor, str) else None,
                result_code=code if isinstance(code, int) else None,
                status_text=result.get("description") if isinstance(result.get("description"), str) else None,
            )
        details = {
            "row": row.id,
            "kind": row.kind,
            "recipient": RECIPIENTS.get(row.kind, row.kind),
            "attempt": row.attempts + 1,
        }
        ctx.record(uow, AuditEvent("outbox.deliver", _subject(row), _purpose(row), details))
        uow.commit()
    return True


def record_failure(
    ctx: Context,
    row: OutboxRow,
    error: str,
    policy: RetryPolicy,
    draw: Draw,
    *,
    retry_after: float | None = None,
    permanent: bool = False,
) -> Decision | None:
    """Count a failed attempt: try again after the back-off (or Retry-After), or give up. None if no longer ours."""
    now = ctx.clock.now()
    decision = after_failure(policy, row.attempts, now, error, draw, retry_after=retry_after, permanent=permanent)
    with ctx.uow() as uow:
        if decision.dead:
            if not uow.outbox.mark_dead(row.id, row.lease_until, decision.attempts, decision.error):
                return None
            message = uow.messages.for_outbox(row.id)
            if message is not None and message.status not in FINAL_STATUSES:
                _set_message(uow, message, MessageStatus.FAILED, now, status_text=decision.error)
            details = {"row": row.id, "kind": row.kind, "attempts": decision.attempts, "reason": decision.error}
            ctx.record(uow, AuditEvent("outbox.dead", _subject(row), _purpose(row), details))
        else:
            assert decision.next_attempt_at is not None
            if not uow.outbox.mark_retry(row.id, row.lease_until, decision.attempts, decision.next_attempt_at, error):
                return None
        uow.commit()
    return decision


def record_waiting(ctx: Context, row: OutboxRow, error: str, wait: timedelta) -> bool:
    """The connector cannot try yet (no credentials): the row waits, and this is not counted as an attempt."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        done = uow.outbox.mark_retry(row.id, row.lease_until, row.attempts, now + wait, error)
        uow.commit()
    return done
