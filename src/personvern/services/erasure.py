"""Erasure (Art. 17) and archiving: the one path by which a person's data leaves the live register.

Both a person's erasure request and the retention sweep come here, so an erasure is the same wherever it
starts: processors are told (Art. 17(2), 19), undelivered outbox rows are stopped, what a law still
requires is kept restricted under a fresh key (Art. 17(3)(b)), everything else is deleted with its key
(crypto-shredding), an archived copy goes too, and a receipt without personal data proves it was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.archive import ArchiveRecord, may_read, minimise
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import Block, BlockKind
from personvern.domain.erasure import ErasureCause, ErasureReceipt, Hold, combine
from personvern.domain.errors import Conflict, Forbidden, NotFound, invalid
from personvern.domain.retention import Facts, legal_holds, local_day
from personvern.services import processors, retention
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork


def holds(ctx: Context, facts: Facts) -> list[Hold]:
    """The legal obligations that outlive an erasure today of a subject with these facts (Art. 17(3)(b))."""
    today = local_day(ctx.clock.now(), ctx.policy)
    # An open request would keep everything; the erasure being carried out must not keep itself alive.
    facts = replace(facts, erasure_requested=True, open_request=False)
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
    reschedule: bool = True,
) -> ErasureReceipt:
    """Erase one person from the live register and the archive, inside the caller's transaction."""
    [receipt] = erase_many(ctx, uow, [subject_id], cause=cause, request_id=request_id, reschedule=reschedule)
    return receipt


def erase_many(
    ctx: Context,
    uow: UnitOfWork,
    subject_ids: Sequence[str],
    *,
    cause: ErasureCause,
    request_id: str | None = None,
    facts: Mapping[str, Facts] | None = None,
    reschedule: bool = True,
) -> list[ErasureReceipt]:
    """Erase these people from the live register and the archive (Art. 17), in the caller's transaction; a receipt each.

    Each person is erased exactly as alone (the same receipt, audit entries and processor notices), but the
    statements are per few hundred people, not per person, and nothing is decrypted for a plain erasure: only
    the email address of someone HubSpot may hold, and the values of someone a law requires to keep in part
    (re-sealed under a fresh key, one by one: they are few). `facts`: the subjects' facts as read in this
    transaction already (by the retention sweep); a subject left out of them is taken as not in the register.
    `reschedule=False`: the caller recomputes the schedule of those held itself, later in the transaction (an
    erasure request does, once the request is closed: an open request is itself a reason to keep).
    """
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return []
    now = ctx.clock.now()
    known = uow.retention.facts(ids) if facts is None else facts
    live = [sid for sid in ids if sid in known]
    archived = uow.archive.for_subjects(ids)
    for sid in ids:
        if sid not in known and sid not in archived:
            raise NotFound(f"no subject with id {sid} in the register or the archive")
    present = uow.retention.stored_fields(live) if live else {}
    told = processors.propagate_erasures(ctx, uow, {sid: present.get(sid, set()) for sid in live})
    stopped = uow.outbox.forget_subjects(live, "the person's data was erased") if live else {}
    receipts: list[ErasureReceipt] = []
    events: list[AuditEvent] = []
    whole: list[str] = []
    held: list[str] = []
    for sid in ids:
        details: dict[str, Any] = {"policy": ctx.policy.version}
        held_until = None
        if sid in known:
            fields = present.get(sid, set())
            details["processors"] = {n.recipient: n.action for n in told[sid].notices}
            rows = {n.recipient: n.row for n in told[sid].notices if n.row is not None}
            if rows:
                details["outbox_rows"] = rows  # how each processor's confirmation will come (its delivery)
            details["outbox_rows_stopped"] = stopped.get(sid, 0)
            kept, held_until = combine(holds(ctx, known[sid]), fields)
            details["fields_erased"] = sorted(fields - kept)
            if kept:
                uow.subjects.shred(sid, kept, now)
                # Kept only because a law requires it: restricted to that purpose (Art. 17(3)(b), 18(2)).
                assert held_until is not None  # combine() gives an end with every kept field
                why = f"erased except what bookkeeping law requires, held until {held_until.isoformat()}"
                uow.blocks.add(Block(new_id(), sid, BlockKind.RESTRICTION, None, now, ctx.actor.name, why))
                details["fields_held"] = sorted(kept)
                details["held_until"] = held_until.isoformat()
                held.append(sid)
            else:
                whole.append(sid)
            events.extend(told[sid].events)
        if sid in archived:
            details["archive_record_erased"] = archived[sid].id
        receipt = ErasureReceipt(new_id(), sid, request_id, now, cause, held_until, details)
        receipts.append(receipt)
        events.append(AuditEvent("subject.erase", sid, None, {"receipt": receipt.id, "cause": cause.value, **details}))
    uow.subjects.erase_many(whole)
    uow.archive.erase_many([archived[sid].id for sid in ids if sid in archived])
    # What identified the person in their requests goes too; the requests themselves remain as the record.
    uow.requests.forget_subjects(ids)
    uow.receipts.add_many(receipts)
    if reschedule:
        retention.refresh(ctx, uow, held)  # what is held is due when its hold ends, no sooner
    ctx.record(uow, *events)
    if ctx.erasures is not None:
        # Outside the database, so that a backup restored later erases them again (Art. 17): written before the
        # commit, marked committed after it (why both: store/erasure_journal.py).
        uow.after_commit(ctx.erasures.intend(receipts))
    return receipts


def archive_subject(ctx: Context, uow: UnitOfWork, subject_id: str, reason: str) -> ArchiveRecord:
    """Move a subject whose reasons ended into the archive, minimised, inside the caller's transaction.

    The seed policy: surplus or outdated data may be archived where only the CEO can reach it. Processors
    no longer need it, so they are told to delete their copies (Art. 17(1)(a), 19).
    """
    [record] = archive_many(ctx, uow, {subject_id: reason})
    return record


def archive_many(ctx: Context, uow: UnitOfWork, reasons: Mapping[str, str]) -> list[ArchiveRecord]:
    """`archive_subject` for many (subject id -> reason): the same record and audit entry each, in bulk.

    Only the fields the archive keeps are decrypted (Art. 5(1)(c)), besides the email address of someone
    HubSpot may hold; the rest leaves the register unread, with its key.
    """
    for reason in reasons.values():
        if not reason.strip():
            raise invalid("reason", "archiving needs the reason (e.g. the retention rule that ended)")
    ids = list(reasons)
    if not ids:
        return []
    subjects = {s.id: s for s in uow.subjects.get_many(ids, ctx.policy.archive.fields)}
    for sid in ids:
        if sid not in subjects:
            raise NotFound(f"no subject with id {sid} in the register")
    already = uow.archive.for_subjects(ids)
    for sid in ids:
        if sid in already:
            raise Conflict(f"subject {sid} is already archived")
    present = uow.retention.stored_fields(ids)
    told = processors.propagate_erasures(ctx, uow, {sid: present.get(sid, set()) for sid in ids})
    uow.outbox.forget_subjects(ids, "the person's data was archived")
    now = ctx.clock.now()
    records: list[tuple[ArchiveRecord, dict[str, str]]] = []
    events: list[AuditEvent] = []
    for sid in ids:
        subject = subjects[sid]
        values = minimise(ctx.policy, subject.values)
        record = ArchiveRecord(new_id(), sid, subject.kind, subject.received_at, now, reasons[sid].strip())
        records.append((record, values))
        events.extend(told[sid].events)
        events.append(
            AuditEvent(
                "subject.archive",
                sid,
                None,
                {
                    "record": record.id,
                    "reason": record.reason,
                    "fields_kept": sorted(values),
                    "fields_dropped": sorted(present.get(sid, set()) - set(values)),
                    "processors": {n.recipient: n.action for n in told[sid].notices},
                },
            )
        )
    uow.archive.add_many(records)
    uow.subjects.erase_many(ids)
    ctx.record(uow, *events)
    return [record for record, _values in records]


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
