"""The outbox's use cases: enqueue with its cause, list, retry a dead row; claim rows and record what delivery did;
and whether a queued row may still go, asked again when the person's will changes and just before delivery."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import Block, BlockKind, ConsentEvent, marketing_block_reason
from personvern.domain.errors import Conflict, Forbidden, NotFound, invalid
from personvern.domain.outbox import (
    CANCELLED,
    STOPPED,
    Decision,
    Draw,
    OutboxRow,
    OutboxState,
    RetryPolicy,
    after_failure,
)
from personvern.domain.sealed import FORGOTTEN
from personvern.domain.sms import FINAL_STATUSES, Message, MessageStatus, next_status
from personvern.services import confirmations, sealed
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork

# Who receives each kind of row: the recipient as the policy names it (Art. 13(1)(e), Art. 30(1)(d)).
RECIPIENTS = {
    "sms": "linkmobility",
    "email": "smtp",  # the company's own mail server
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
    row = pending(ctx, kind, subject_id, public, personal, due)
    uow.outbox.enqueue(row)
    return row


def pending(
    ctx: Context,
    kind: str,
    subject_id: str | None,
    public: Mapping[str, Any],
    personal: Mapping[str, Any],
    due: datetime | None = None,
) -> OutboxRow:
    """A new pending row, not yet queued (`enqueue`, or many at once through `uow.outbox.enqueue_many`)."""
    now = ctx.clock.now()
    first = now if due is None else max(due, now)
    return OutboxRow(new_id(), kind, subject_id, OutboxState.PENDING, 0, first, now, dict(public), dict(personal))


@dataclass(frozen=True)
class OutboxListing:
    total: int
    rows: list[OutboxRow]
    # Dead rows listed that still hold their personal part: when it goes, and what is then left to do by hand.
    personal_until: dict[str, datetime] = field(default_factory=dict)
    by_hand: dict[str, str] = field(default_factory=dict)


MAX_LISTING = 10_000


def list_outbox(
    ctx: Context,
    dead_only: bool = False,
    everything: bool = False,
    limit: int = 100,
    offset: int = 0,
    failed_only: bool = False,
) -> OutboxListing:
    """Rows that still need something (pending and dead), only the dead, or every row; never a personal value.

    `failed_only`: leave out the dead rows stopped on purpose (a message no longer allowed, a share called off):
    what is left is what was given up on, for the dashboard.

    Oldest first; `offset` rows are skipped (a page further on).
    """
    ctx.actor.require(Permission.OUTBOX_READ)
    if not 1 <= limit <= MAX_LISTING:
        raise invalid("limit", f"must be between 1 and {MAX_LISTING}")
    if offset < 0:
        raise invalid("offset", "must not be negative")
    if dead_only:
        states = [OutboxState.DEAD]
    elif everything:
        states = list(OutboxState)
    else:
        states = [OutboxState.PENDING, OutboxState.DEAD]
    with ctx.uow() as uow:
        rows = uow.outbox.in_states(states, limit, offset, failed_only)
        listing = OutboxListing(uow.outbox.count(states, failed_only), rows)
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
    """Put a dead row back in the queue with a fresh count of attempts (after the cause was fixed).

    A row the person's consent, objection or restriction no longer allows is refused: retrying must not
    send what a withdrawal (Art. 7(3)), an objection (Art. 21(3)) or a restriction (Art. 18) forbids.
    """
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
        if row.state is OutboxState.DEAD and (row.last_error or "").startswith(STOPPED):
            # Its phone number and text were destroyed with it: there is nothing left to send.
            raise Conflict(f"outbox row {row_id} was {row.last_error}; queue a new message if it is allowed now")
        if row.state is OutboxState.DEAD:
            verdict = clearance(uow, row)
            if verdict.cancel is not None:
                raise Forbidden(f"outbox row {row_id} may no longer be sent: {verdict.cancel}; it stays dead")
        if row.state is not OutboxState.DEAD or not uow.outbox.revive(row_id, now):
            raise Conflict(f"outbox row {row_id} is {row.state.value}; only a dead row can be retried")
        message = uow.messages.for_outbox(row_id)
        if message is not None and message.status is MessageStatus.FAILED and message.result_code is None:
            # Failed by our own outbox, not reported failed by the operator: it is on its way again.
            uow.messages.set_status(message.id, MessageStatus.PENDING, now, status_text="queued again")
        ctx.record(uow, AuditEvent("outbox.retry", row.subject_id, _purpose(row), {"row": row_id, "kind": row.kind}))
        uow.commit()
    return replace(row, state=OutboxState.PENDING, attempts=0, next_attempt_at=now, lease_until=None)


def claim_due(
    ctx: Context, limit: int, lease: timedelta, due_by: datetime | None = None, skip_kinds: Collection[str] = ()
) -> list[OutboxRow]:
    """Lease up to `limit` due rows for delivery, in a transaction of their own (committed before delivering).

    `skip_kinds`: kinds whose connector cannot deliver now (no credentials); their rows stay as they are.
    """
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        rows = uow.outbox.claim(due_by or now, now, now + lease, limit, skip_kinds)
        uow.commit()
    return rows


@dataclass(frozen=True)
class QueueState:
    """What is left after a pass: how many rows are pending, and when the next one is due after the pass."""

    pending: int
    next_attempt_at: datetime | None


def queue_state(ctx: Context, after: datetime) -> QueueState:
    ctx.actor.require(Permission.OUTBOX_READ)
    with ctx.uow() as uow:
        return QueueState(uow.outbox.count([OutboxState.PENDING]), uow.outbox.next_attempt(after))


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
        # A processor's confirmation of a request (its deletion, update or unsubscribe delivered): recorded with
        # the delivery, so a worker killed before this commit leaves both to the next one, never one of them.
        confirmations.delivered(ctx, uow, row)
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
    """The row cannot go yet (held back by a rule for now): it waits `wait`, and this is not counted as an attempt."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        done = uow.outbox.mark_retry(row.id, row.lease_until, row.attempts, now + wait, error)
        uow.commit()
    return done


def record_kind_waiting(ctx: Context, kind: str, error: str) -> int:
    """The connector of `kind` cannot deliver at all (no credentials): every due row of the kind says why.

    They stay due and no attempt is counted, so the first pass after the credentials are set delivers
    them at once. Returns how many rows of the kind wait.
    """
    now = ctx.clock.now()
    with ctx.uow() as uow:
        waiting = uow.outbox.mark_waiting(kind, now, now, error)
        uow.commit()
    return waiting


# ---------------------------------------------------------------- whether a queued row may still go


@dataclass(frozen=True)
class Clearance:
    """Whether a pending row may go now; if not, the rule that stops it, forever (cancel) or for now (hold)."""

    cancel: str | None = None
    hold: str | None = None

    @property
    def clear(self) -> bool:
        return self.cancel is None and self.hold is None


def _restricted(blocks: list[Block]) -> Block | None:
    return next((b for b in blocks if b.active and b.kind is BlockKind.RESTRICTION), None)


def _clearance(row: OutboxRow, exists: bool, events: list[ConsentEvent], blocks: list[Block]) -> Clearance:
    """The rules a row must still pass when it is about to go (its subject's state as it is now)."""
    if row.kind in ("hubspot.unsubscribe", "hubspot.delete") or row.subject_id is None:
        # Telling a processor to stop or to erase serves the person's rights (Art. 17(2), 21(3)): always goes.
        return Clearance()
    if not exists:
        return Clearance(cancel="the person is no longer in the register")
    restriction = _restricted(blocks)
    if row.kind == "sms":
        if _purpose(row) == "marketing":
            # Consent in force on the SMS channel, no objection, not restricted: what `sms send` checked,
            # asked again now (Art. 7(3), 21(3), 18(1)).
            reason = marketing_block_reason(events, blocks, "sms")
            return Clearance() if reason is None else Clearance(cancel=reason)
        if restriction is not None:
            # Art. 18(2): restricted data is only stored; no message of any kind goes (as `sms send` refuses).
            since = restriction.set_at.date().isoformat()
            return Clearance(cancel=f"processing is restricted (Art. 18) since {since}")
        return Clearance()
    if row.kind == "hubspot.upsert":
        if row.public.get("reason") == "share":
            # Shared on consent to email marketing: HubSpot may receive the person only while that holds.
            reason = marketing_block_reason(events, blocks, "email")
            return Clearance() if reason is None else Clearance(cancel=reason)
        if restriction is not None:
            # A correction HubSpot is owed (Art. 19) waits out the restriction (Art. 18(2)) rather than being lost.
            since = restriction.set_at.date().isoformat()
            return Clearance(hold=f"held: processing is restricted (Art. 18) since {since}; goes when it is lifted")
    return Clearance()


def clearance(uow: UnitOfWork, row: OutboxRow) -> Clearance:
    """Whether the row may go now, by its subject's consent, objections and restriction as they are now."""
    if row.subject_id is None:
        return _clearance(row, True, [], [])
    sid = row.subject_id
    return _clearance(row, uow.subjects.exists(sid), uow.consents.for_subject(sid), uow.blocks.for_subject(sid))


def _cancel(ctx: Context, uow: UnitOfWork, row: OutboxRow, reason: str) -> bool:
    """Stop a row that may no longer go: dead with the reason, its personal part destroyed, its message cancelled."""
    error = (CANCELLED + reason)[:STATUS_TEXT]
    if not uow.outbox.cancel(row.id, error):
        return False
    message = uow.messages.for_outbox(row.id)
    if message is not None and message.status not in FINAL_STATUSES:
        _set_message(uow, message, MessageStatus.CANCELLED, ctx.clock.now(), status_text=error)
    details = {"row": row.id, "kind": row.kind, "recipient": RECIPIENTS.get(row.kind, row.kind), "reason": reason}
    ctx.record(uow, AuditEvent("outbox.cancel", _subject(row), _purpose(row), details))
    return True


def cancel_forbidden(ctx: Context, uow: UnitOfWork, subject_id: str) -> int:
    """Cancel the subject's queued rows that its consent, objections or restriction no longer allow.

    Called in the transaction that withdraws, objects or restricts, so the change and its effect on the queue
    commit together. A row a worker holds right now is left to that worker, which asks again before sending.
    """
    now = ctx.clock.now()
    rows = [
        r
        for r in uow.outbox.for_subject(subject_id)
        if r.state is OutboxState.PENDING and (r.lease_until is None or r.lease_until <= now)
    ]
    if not rows:
        return 0
    exists = uow.subjects.exists(subject_id)
    events, blocks = uow.consents.for_subject(subject_id), uow.blocks.for_subject(subject_id)
    cancelled = 0
    for row in rows:
        verdict = _clearance(row, exists, events, blocks)
        if verdict.cancel is not None and _cancel(ctx, uow, row, verdict.cancel):
            cancelled += 1
    return cancelled


def clear_for_delivery(ctx: Context, row: OutboxRow) -> Clearance | None:
    """Asked by the worker just before it hands a claimed row over: may it go? A row that may not is cancelled.

    Consent can be withdrawn, an objection made or processing restricted after the row was queued, while it
    waited for credentials or a back-off, or after `outbox retry`: the answer is the one in force now. None:
    the row is no longer this worker's (cancelled, or claimed by another after the lease ran out).
    """
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    with ctx.uow() as uow:
        current = uow.outbox.get(row.id)
        if current is None or current.state is not OutboxState.PENDING or current.lease_until != row.lease_until:
            return None
        verdict = clearance(uow, row)
        if verdict.cancel is not None:
            _cancel(ctx, uow, row, verdict.cancel)
        uow.commit()
    return verdict
