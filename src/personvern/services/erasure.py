"""Erasure (Art. 17) and archiving: the one path by which a person's data leaves the live register.

Both a person's erasure request and the retention sweep come here, so an erasure is the same wherever it
starts: processors are told (Art. 17(2), 19), undelivered outbox rows are stopped, what a law still
requires is kept restricted under a fresh key (Art. 17(3)(b)), everything else is deleted with its key
(crypto-shredding), an archived copy goes too, and a receipt without personal data proves it was done.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.archive import ArchiveRecord, may_read, minimise
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import Block, BlockKind
from personvern.domain.erasure import ErasureCause, ErasureReceipt, Hold, combine
from personvern.domain.errors import Conflict, Forbidden, NotFound, invalid
from personvern.domain.retention import Facts, legal_holds, local_day
from personvern.domain.subjects import Subject
from personvern.services import processors, retention
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork

ERASED = "erased at the data subject's request or when no reason to keep it was left"


def facts_of(
    uow: UnitOfWork, subject: Subject, *, erasure_requested: bool = False, besides: str | None = None
) -> Facts:
    """What the retention rules know about one subject, as the retention sweep reads them (by id, no scan).

    `besides`: a request being answered now, which is not a reason to keep the data it answers about.
    """
    facts = uow.retention.facts([subject.id])[subject.id]
    open_request = any(r.open and r.id != besides for r in uow.requests.for_subject(subject.id))
    return replace(facts, open_request=open_request, erasure_requested=facts.erasure_requested or erasure_requested)


def holds_for(ctx: Context, uow: UnitOfWork, subject: Subject) -> list[Hold]:
    """The legal obligations that outlive an erasure of this subject today (Art. 17(3)(b))."""
    today = local_day(ctx.clock.now(), ctx.policy)
    # An open request would keep everything; the erasure being carried out must not keep itself alive.
    facts = replace(facts_of(uow, subject, erasure_requested=True), open_request=False)
    return [
        Hold(r.rule, r.purpose or "", r.fields, r.until)
        for r in legal_holds(ctx.policy, facts, today)
        if r.fields is not None and r.until is not None
    ]


def erase_subject(
    ctx: Context,
    uow: UnitOfWork,
    subject_id: str,
    *,
    cause: ErasureCause,
    request_id: str | None = None,
) -> ErasureReceipt:
    """Erase one person from the live register and the archive, inside the caller's transaction."""
    now = ctx.clock.now()
    subject = uow.subjects.get(subject_id)
    archived = uow.archive.for_subject(subject_id)
    if subject is None and archived is None:
        raise NotFound(f"no subject with id {subject_id} in the register or the archive")
    details: dict[str, Any] = {"policy": ctx.policy.version}
    held_until = None
    if subject is not None:
        notices = processors.propagate_erasure(ctx, uow, subject)
        details["processors"] = {n.recipient: n.action for n in notices}
        details["outbox_rows_stopped"] = uow.outbox.forget_subject(subject_id, "the person's data was erased")
        kept, held_until = combine(holds_for(ctx, uow, subject), set(subject.values))
        details["fields_erased"] = sorted(set(subject.values) - kept)
        if kept:
            uow.subjects.shred(subject_id, kept, now)
            # Kept only because a law requires it: restricted to that purpose (Art. 17(3)(b), 18(2)).
            assert held_until is not None  # combine() gives an end with every kept field
            why = f"erased except what bookkeeping law requires, held until {held_until.isoformat()}"
            uow.blocks.add(Block(new_id(), subject_id, BlockKind.RESTRICTION, None, now, ctx.actor.name, why))
            details["fields_held"] = sorted(kept)
            details["held_until"] = held_until.isoformat() if held_until else None
        else:
            uow.subjects.erase(subject_id)
    if archived is not None:
        uow.archive.erase(archived.id)
        details["archive_record_erased"] = archived.id
    # What identified the person in their requests goes too; the requests themselves remain as the record.
    for request in uow.requests.for_subject(subject_id):
        uow.requests.forget_personal(request.id)
    receipt = ErasureReceipt(new_id(), subject_id, request_id, now, cause, held_until, details)
    uow.receipts.add(receipt)
    if held_until is not None:
        retention.refresh(ctx, uow, [subject_id])  # what is held is due when its hold ends, no sooner
    ctx.record(
        uow, AuditEvent("subject.erase", subject_id, None, {"receipt": receipt.id, "cause": cause.value, **details})
    )
    return receipt


def archive_subject(ctx: Context, uow: UnitOfWork, subject_id: str, reason: str) -> ArchiveRecord:
    """Move a subject whose reasons ended into the archive, minimised, inside the caller's transaction.

    The seed policy: surplus or outdated data may be archived where only the CEO can reach it. Processors
    no longer need it, so they are told to delete their copies (Art. 17(1)(a), 19).
    """
    if not reason.strip():
        raise invalid("reason", "archiving needs the reason (e.g. the retention rule that ended)")
    subject = uow.subjects.get(subject_id)
    if subject is None:
        raise NotFound(f"no subject with id {subject_id} in the register")
    if uow.archive.for_subject(subject_id) is not None:
        raise Conflict(f"subject {subject_id} is already archived")
    values = minimise(ctx.policy, subject.values)
    record = ArchiveRecord(new_id(), subject_id, subject.kind, subject.received_at, ctx.clock.now(), reason.strip())
    notices = processors.propagate_erasure(ctx, uow, subject)
    uow.outbox.forget_subject(subject_id, "the person's data was archived")
    uow.archive.add(record, values)
    uow.subjects.erase(subject_id)
    ctx.record(
        uow,
        AuditEvent(
            "subject.archive",
            subject_id,
            None,
            {
                "record": record.id,
                "reason": record.reason,
                "fields_kept": sorted(values),
                "fields_dropped": sorted(set(subject.values) - set(values)),
                "processors": {n.recipient: n.action for n in notices},
            },
        ),
    )
    return record


# ---------------------------------------------------------------- reading the archive


@dataclass(frozen=True)
class ArchivedView:
    record: ArchiveRecord
    values: dict[str, str]


def _require_archive_reader(ctx: Context) -> None:
    ctx.actor.require(Permission.ARCHIVE_READ)
    if not may_read(ctx.policy, ctx.actor.role):
        raise Forbidden(
            f"role {ctx.actor.role!r} may not read the archive (the policy allows: "
            f"{', '.join(ctx.policy.archive.readable_by)})"
        )


def list_archive(ctx: Context, limit: int = 50, offset: int = 0) -> tuple[int, list[ArchiveRecord]]:
    """The archived records, oldest first: ids, kinds and dates, no values (reading a value is `show`)."""
    _require_archive_reader(ctx)
    if not 1 <= limit <= 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    if offset < 0:
        raise invalid("offset", "must not be negative")
    with ctx.uow() as uow:
        total, records = uow.archive.count(), uow.archive.listing(limit, offset)
        ctx.record(uow, AuditEvent("archive.list", None, None, {"records": len(records)}))
        uow.commit()
    return total, records


def show_archived(ctx: Context, record_or_subject_id: str) -> ArchivedView:
    """One archived record with its values; every read is in the audit chain."""
    _require_archive_reader(ctx)
    with ctx.uow() as uow:
        record = uow.archive.get(record_or_subject_id) or uow.archive.for_subject(record_or_subject_id)
        if record is None:
            raise NotFound(f"no archived record with id {record_or_subject_id}")
        values = uow.archive.values(record)
        ctx.record(uow, AuditEvent("archive.read", record.subject_id, None, {"record": record.id}))
        uow.commit()
    return ArchivedView(record, values)
