"""Every recipient covered: what each must do for a request carried out, how it confirms, and the CEO's tasks.

When an erasure, rectification, restriction or objection is carried out, each recipient in the policy gets a
row here (Art. 17(2), 19): HubSpot confirms by the delivery of the outbox row that told it; a recipient
without a connector that an accounting export gave the person to (Finago, the auditor) by a task the CEO
closes with a note, due inside the request's deadline (Art. 12(3)); LINK Mobility, which keeps nothing after
it relays an SMS, and any recipient that never received the person, are recorded as not asked. The request
stays in progress until the last confirmation is in, and then completes by itself, in the transaction of
that confirmation (the worker's record of a delivery, or the CEO's `task done`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from personvern.domain import requests as rq
from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.confirmations import (
    Confirmation,
    ConfirmationState,
    ConfirmBy,
    all_in,
    clean_note,
    confirm,
    task_due,
)
from personvern.domain.erasure import ErasureReceipt
from personvern.domain.errors import Conflict, Forbidden, NotFound, invalid
from personvern.domain.outbox import OutboxRow, OutboxState
from personvern.domain.requests import Request, RequestType
from personvern.domain.retention import local_day
from personvern.policy.schema import LegalBasis, RecipientCategory
from personvern.services import processors, retention
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork

# services.outbox calls `delivered` below and services.processors imports services.outbox: this module reaches
# processors through its module object, at call time only, so that the three import in any order.

RELAY = "holds nothing after delivery: it relays each SMS to the operator and keeps no register"
NEVER_RECEIVED = "holds nothing: no export or share ever gave it the person's data"
NOT_CONCERNED = "not concerned: it receives none of the data this request is about"
ALREADY_TOLD = "told before to send no more email, and given nothing since"
BY_HAND = "no connector here: tell them, then close this task with a note saying how"


def _today(ctx: Context) -> date:
    return local_day(ctx.clock.now(), ctx.policy)


def _recipients(ctx: Context) -> list[str]:
    return [k for k, r in ctx.policy.recipients.items() if r.category is not RecipientCategory.INTERNAL]


def _row(
    ctx: Context,
    request: Request,
    recipient: str,
    action: str,
    by: ConfirmBy,
    detail: str,
    fields: Sequence[str] = (),
    outbox_id: str | None = None,
) -> Confirmation:
    pending = by is not ConfirmBy.NOTHING
    return Confirmation(
        id=new_id(),
        request_id=request.id,
        subject_id=request.subject_id,
        recipient=recipient,
        action=action,
        confirm_by=by,
        state=ConfirmationState.PENDING if pending else ConfirmationState.NOT_NEEDED,
        created_at=ctx.clock.now(),
        detail=detail,
        fields=tuple(fields),
        outbox_id=outbox_id,
        # Every confirmation still to come is expected inside the request's deadline: one late shows as overdue.
        due_on=task_due(request.due_on, _today(ctx)) if pending else None,
    )


def _from_notice(
    ctx: Context,
    request: Request,
    recipient: str,
    notice: processors.ProcessorNotice | None,
    action: str,
    fields: Sequence[str],
) -> Confirmation:
    if recipient in processors.RELAYS:
        return _row(ctx, request, recipient, action, ConfirmBy.NOTHING, RELAY)
    if notice is None:
        return _row(ctx, request, recipient, action, ConfirmBy.NOTHING, NOT_CONCERNED)
    if notice.row is not None:
        return _row(ctx, request, recipient, action, ConfirmBy.OUTBOX, notice.action, fields, notice.row)
    if notice.action == processors.NOTHING_HELD:
        return _row(ctx, request, recipient, action, ConfirmBy.NOTHING, NEVER_RECEIVED)
    # "tell by hand: …": no connector, or nothing to find the person by there. The CEO does it and says how.
    detail = BY_HAND if notice.action == processors.NO_CONNECTOR else notice.action
    return _row(ctx, request, recipient, action, ConfirmBy.TASK, detail, fields)


def for_erasure(ctx: Context, request: Request, receipt: ErasureReceipt) -> list[Confirmation]:
    """Per recipient: erase the person, all but what bookkeeping law requires it to keep (Art. 17(3)(b))."""
    d = receipt.details
    told: Mapping[str, str] = d.get("processors") or {}
    rows: Mapping[str, str] = d.get("outbox_rows") or {}
    held = set(d.get("fields_held") or [])
    out = []
    for recipient in _recipients(ctx):
        spec = ctx.policy.recipients[recipient]
        declared = spec.fields
        # What a law requires kept is kept where it is kept for that law (the accounts), not at every recipient.
        bound = any(ctx.policy.purposes[p].legal_basis is LegalBasis.LEGAL_OBLIGATION for p in spec.purposes)
        kept = [f for f in declared if f in held] if bound else []
        action = "erase the person"
        if kept and receipt.held_until is not None:
            action += f"; keep only {', '.join(kept)} until {receipt.held_until.isoformat()} (bookkeeping law)"
        notice = (
            processors.ProcessorNotice(recipient, told[recipient], rows.get(recipient)) if recipient in told else None
        )
        out.append(_from_notice(ctx, request, recipient, notice, action, declared))
    return out


def for_rectification(
    ctx: Context, request: Request, notices: Sequence[processors.ProcessorNotice], fields: Collection[str]
) -> list[Confirmation]:
    """Per recipient: correct the fields it received that changed (Art. 16, 19)."""
    by_recipient = {n.recipient: n for n in notices}
    out = []
    for recipient in _recipients(ctx):
        concerned = [f for f in ctx.policy.recipients[recipient].fields if f in fields]
        action = f"correct {', '.join(concerned)}" if concerned else "correct nothing"
        out.append(_from_notice(ctx, request, recipient, by_recipient.get(recipient), action, concerned))
    return out


def for_block(ctx: Context, uow: UnitOfWork, request: Request, queued: Sequence[OutboxRow]) -> list[Confirmation]:
    """A restriction (Art. 18) or an objection (Art. 21): each recipient that processes the person for what is
    stopped must stop it too (Art. 19). HubSpot by the unsubscribe the block queued; a recipient an export gave
    the person to, by a task (an objection to marketing does not concern the accounts)."""
    sid = request.subject_id
    assert sid is not None
    restriction = request.type is RequestType.RESTRICTION
    given = uow.exports.recipients_of([sid]).get(sid, set())
    unsubscribe = next((r for r in queued if r.kind == processors.UNSUBSCRIBE), None)
    out = []
    for recipient in _recipients(ctx):
        spec = ctx.policy.recipients[recipient]
        concerned = restriction or (request.purpose or "") in spec.purposes
        if restriction:
            action = "restrict: keep the data, use it for nothing else (Art. 18(2))"
        else:
            action = f"stop processing for {request.purpose} (Art. 21)"
        notice: processors.ProcessorNotice | None = None
        if concerned and recipient == processors.HUBSPOT:
            action = "send no more email" + ("; keep the contact (Art. 18(2))" if restriction else " (Art. 21(3))")
            standing = unsubscribe or processors.standing_unsubscribe(uow, sid)
            if standing is not None and standing.state is OutboxState.PENDING:
                notice = processors.ProcessorNotice(recipient, "unsubscribe queued", standing.id)
            elif standing is not None and processors.may_hold(uow, sid):
                out.append(_row(ctx, request, recipient, action, ConfirmBy.NOTHING, ALREADY_TOLD))
                continue
            else:
                notice = processors.ProcessorNotice(recipient, processors.NOTHING_HELD)
        elif concerned and recipient not in processors.RELAYS:
            held = "tell by hand: no connector" if recipient in given else processors.NOTHING_HELD
            notice = processors.ProcessorNotice(recipient, held)
        out.append(_from_notice(ctx, request, recipient, notice, action, ()))
    return out


# ---------------------------------------------------------------- confirming


def delivered(ctx: Context, uow: UnitOfWork, row: OutboxRow) -> list[str]:
    """A row was delivered (in the worker's transaction recording it): the confirmations it stands for are in.

    Returns the ids of the requests it completed. A row recorded once confirms once, whatever a killed worker
    sent before: the record is what counts, not the sending.
    """
    completed = []
    for found in uow.confirmations.for_outbox(row.id):
        if not found.pending:
            continue  # closed by hand already (the row had died, and was retried since)
        uow.confirmations.save(confirm(found, ctx.clock.now(), ctx.actor.name))
        details = {"request": found.request_id, "recipient": found.recipient, "by": "delivery", "row": row.id}
        ctx.record(uow, AuditEvent("request.confirm", found.subject_id, None, details))
        if complete_if_done(ctx, uow, found.request_id):
            completed.append(found.request_id)
    return completed


def complete_if_done(ctx: Context, uow: UnitOfWork, request_id: str) -> bool:
    """Complete a carried-out request once every recipient has confirmed; whether it was completed now."""
    request = uow.requests.get(request_id, lock=True)
    if request is None or not request.carried_out:
        return False
    confirmations = uow.confirmations.for_request(request_id)
    if not all_in(confirmations):
        return False
    now = ctx.clock.now()
    done = rq.complete(request, now, ctx.actor.name, {**request.outcome, "confirmed_at": now.isoformat()})
    uow.requests.save(done)
    recipients = sorted(c.recipient for c in confirmations if c.state is ConfirmationState.CONFIRMED)
    ctx.record(
        uow,
        AuditEvent(
            "request.complete",
            request.subject_id,
            None,
            {"request": request.id, "type": request.type.value, "confirmed": recipients},
        ),
    )
    if request.subject_id is not None and uow.subjects.exists(request.subject_id):
        retention.refresh(ctx, uow, [request.subject_id])  # a closed request no longer keeps the data
    return True


# ---------------------------------------------------------------- the CEO's tasks


@dataclass(frozen=True)
class RecipientView:
    """One recipient's part in a request, as `request show`, `task list` and the dashboard show it."""

    confirmation: Confirmation
    name: str  # the recipient's name in the policy
    state: str  # pending | confirmed | not_needed | dead
    overdue: bool
    row: OutboxRow | None  # the outbox row that is to confirm it
    request_type: str | None = None
    request_due: date | None = None

    @property
    def is_task(self) -> bool:
        """Closed by the CEO with a note: a recipient without a connector, or an outbox row that died."""
        c = self.confirmation
        return c.pending and (c.confirm_by is ConfirmBy.TASK or self.state == "dead")


def _view(ctx: Context, uow: UnitOfWork, c: Confirmation, today: date, request: Request | None = None) -> RecipientView:
    row = uow.outbox.get(c.outbox_id) if c.outbox_id is not None else None
    state = c.state.value
    if c.pending and row is not None and row.state is OutboxState.DEAD:
        state = "dead"  # given up on: retry the row, or do it by hand and close it as a task
    spec = ctx.policy.recipients.get(c.recipient)
    return RecipientView(
        c,
        spec.name if spec is not None else c.recipient,
        state,
        c.overdue(today),
        row,
        request.type.value if request is not None else None,
        request.due_on if request is not None else None,
    )


def views(ctx: Context, uow: UnitOfWork, request: Request) -> list[RecipientView]:
    today = _today(ctx)
    return [_view(ctx, uow, c, today, request) for c in uow.confirmations.for_request(request.id)]


def list_tasks(ctx: Context, everything: bool = False, limit: int = 200) -> tuple[date, list[RecipientView]]:
    """The CEO's tasks: open ones by due date (the overdue first); `everything`: closed ones too."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    if not 1 <= limit <= 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    states = [ConfirmationState.PENDING, *([ConfirmationState.CONFIRMED] if everything else [])]
    today = _today(ctx)
    with ctx.uow() as uow:
        found: list[RecipientView] = []
        for c in uow.confirmations.in_states(states, 10_000):
            if c.confirm_by is ConfirmBy.NOTHING:
                continue
            view = _view(ctx, uow, c, today, uow.requests.get(c.request_id))
            closed_task = c.state is ConfirmationState.CONFIRMED and c.note is not None
            if view.is_task or closed_task:
                found.append(view)
            if len(found) >= limit:
                break
    return today, found


def close_task(ctx: Context, task_id: str, note: str | None) -> RecipientView:
    """The CEO did it (in Finago, at the auditor's, in HubSpot by hand) and says how: the confirmation is in."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    text = clean_note(note)
    with ctx.uow() as uow:
        found = uow.confirmations.get(task_id, lock=True)
        if found is None:
            raise NotFound(f"no task with id {task_id}")
        today = _today(ctx)
        view = _view(ctx, uow, found, today)
        if not found.pending:
            raise Conflict(f"task {task_id} is {found.state.value.replace('_', ' ')} already")
        if not view.is_task:
            raise Conflict(
                f"{view.name} confirms this by the delivery of outbox row {found.outbox_id}, which is "
                f"{view.row.state.value if view.row else 'gone'}: wait for the delivery; should the row be given up "
                "on (dead), do it by hand and close this task then"
            )
        done = confirm(found, ctx.clock.now(), ctx.actor.name, text)
        uow.confirmations.save(done)
        # The note is the CEO's own words and may name the person: it is kept with the task, never audited.
        details: dict[str, Any] = {"task": task_id, "request": found.request_id, "recipient": found.recipient}
        details["note_characters"] = len(text)
        ctx.record(uow, AuditEvent("task.done", found.subject_id, None, details))
        complete_if_done(ctx, uow, found.request_id)
        result = _view(ctx, uow, done, today, uow.requests.get(found.request_id))
        uow.commit()
    return result


def reminders(ctx: Context) -> list[str]:
    """The worker's reminder of the CEO's tasks past their due date (none for a role that may not see them)."""
    try:
        today, tasks = list_tasks(ctx)
    except Forbidden:
        return []
    late = [t for t in tasks if t.overdue]
    if not late:
        return []
    first = min(t.confirmation.due_on or today for t in late)
    return [
        f"{len(late)} task(s) for recipients of requests are overdue (the first was due {first.isoformat()}): "
        "`personvern task list`"
    ]
