"""A retention batch with one of everything, and the end state of each subject, for the fakes and the SQL stores alike.

The bulk sweep must leave every subject as the one-by-one sweep did (Art. 5(1)(e), 17, 19): so the same
people are made twice, one set swept as one batch, the other one subject per transaction through the
single-person path, and the states compared subject by subject (ids and values aside, which differ).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from personvern.domain.erasure import ErasureCause
from personvern.domain.outbox import OutboxState
from personvern.domain.retention import Action
from personvern.domain.subjects import Relationship, RelationshipType
from personvern.services import consent, register, sweep
from personvern.services.context import Context, new_id
from personvern.services.erasure import archive_subject, erase_subject
from personvern.services.ports import UnitOfWork
from personvern.services.retention import refresh, today
from tests.unit.fakes import FixedClock

ORG = {"organisation_number": "974760673", "organisation_name": "Brønnøysundregistrene"}
NAMES = (
    "archived",  # no relationship ever: archived (the policy archives one-time customers)
    "objected",  # objected to marketing: erased, never archived (Art. 21)
    "representative",  # a business representative whose organisation has no agreement: erased (the policy's choice)
    "held",  # an ended order: erased but for what bookkeeping law requires (Art. 17(3)(b))
    "hubspot_archived",  # shared with HubSpot, consent withdrawn: archived, HubSpot told to delete (Art. 17(2))
    "hubspot_erased",  # shared with HubSpot, then objected: erased, HubSpot told to delete
    "no_longer_due",  # an order recorded behind the schedule's back: the sweep must leave it alone
)


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person {n} Nordmann", "phone": f"+474{1_000_000 + n:07d}", "email": f"p{n}@example.no"}


def _deliver_share(ctx: Context, uow: UnitOfWork, sid: str, hubspot_id: str) -> None:
    """As if the worker had delivered the share: HubSpot holds the person now."""
    [row] = [r for r in uow.outbox.for_subject(sid) if r.kind == "hubspot.upsert"]
    assert uow.outbox.mark_delivered(row.id, ctx.clock.now(), {"hubspot_id": hubspot_id})


def make(ctx: Context, offset: int) -> dict[str, str]:
    """One subject of each case (person numbers from `offset`), all due on the day after `ctx`'s clock."""
    ids: dict[str, str] = {}
    for n, name in enumerate(NAMES):
        kind = "business_representative" if name == "representative" else "one_time_customer"
        values = person(offset + n) | (ORG if kind == "business_representative" else {})
        # Received long enough ago that the policy's time for someone with no order yet (a prospect) is over.
        ids[name] = register.add_subject(ctx, kind, values, {}, received_at=ctx.clock.now() - timedelta(days=120)).id
    register.start_relationship(ctx, ids["held"], "order", date(2026, 1, 5))
    register.end_relationship(ctx, ids["held"], "order", date(2026, 2, 1))
    consent.object_to(ctx, ids["objected"], "marketing")
    for n, name in enumerate(("hubspot_archived", "hubspot_erased")):
        consent.give_consent(ctx, ids[name], "marketing", "email", "web")
        with ctx.uow() as uow:
            _deliver_share(ctx, uow, ids[name], f"{offset}{n}")
            uow.commit()
    consent.withdraw_consent(ctx, ids["hubspot_archived"], "marketing", "email", "web")  # queues an unsubscribe
    consent.object_to(ctx, ids["hubspot_erased"], "marketing")
    with ctx.uow() as uow:
        rel = Relationship(new_id(), ids["no_longer_due"], RelationshipType.ORDER, date(2026, 11, 1))
        uow.relationships.add(rel)  # no refresh: the stored schedule still says it is due
        uow.commit()
    return ids


def one_by_one(ctx: Context, ids: Iterable[str], day: date) -> None:
    """The sweep as it was before it went in bulk: each subject refreshed, checked and acted on alone."""
    for sid in ids:
        with ctx.uow() as uow:
            refresh(ctx, uow, [sid])
            current = uow.retention.scheduled([sid]).get(sid)
            if current is None or current.schedule is None or not current.schedule.due_on(day):
                uow.commit()
                continue
            due = sweep._due(ctx, current, day)
            if due.step is Action.ARCHIVE:
                archive_subject(ctx, uow, sid, f"retention rule {due.rule} ended on {due.since.isoformat()}")
            else:
                erase_subject(ctx, uow, sid, cause=ErasureCause.RETENTION)
                if uow.subjects.exists(sid):
                    refresh(ctx, uow, [sid])
            uow.commit()


def sweep_both(ctx: Context) -> tuple[dict[str, str], dict[str, str], sweep.RunResult]:
    """Two identical sets, swept on the next day: the first as one batch, the second one subject at a time.

    Returns both sets and the batch's result.
    """
    bulk, single = make(ctx, 0), make(ctx, 100)
    later = replace(ctx, clock=FixedClock(ctx.clock.now() + timedelta(days=1)))
    day = today(later)
    result = sweep.RunResult(day)
    sweep.run_batch(later, list(bulk.values()), day, ErasureCause.RETENTION, result)
    one_by_one(later, single.values(), day)
    return bulk, single, result


# ---------------------------------------------------------------- the end state of one subject

# Ids differ between the two sets (a delete row's "subject" is the subject's own, by which it was found).
IDS = {"receipt", "record", "row", "hubspot_ids", "archive_record_erased", "subject", "block", "event", "relationship"}
IDS |= {"relationships", "outbox_rows"}


def _plain(details: Any) -> Any:
    if isinstance(details, dict):
        return {k: ("<id>" if k in IDS else _plain(v)) for k, v in details.items()}
    if isinstance(details, list):
        return [_plain(v) for v in details]
    return details


def state(uow: UnitOfWork, sid: str, audit: Iterable[tuple[str | None, str, dict[str, Any]]]) -> dict[str, Any]:
    """What the register, archive, receipts, outbox and audit chain hold about one subject, ids and values aside."""
    subject = uow.subjects.get(sid)
    record = uow.archive.for_subject(sid)
    scheduled = uow.retention.scheduled([sid]).get(sid)
    every = uow.outbox.in_states(list(OutboxState), 10_000)
    rows = [r for r in every if r.subject_id == sid or r.public.get("subject") == sid]
    return {
        "fields": None if subject is None else sorted(subject.values),
        "schedule": None if scheduled is None else scheduled.schedule,
        "relationships": [(r.type, r.started_on, r.ended_on) for r in uow.relationships.for_subject(sid)],
        "blocks": [(b.kind, b.active) for b in uow.blocks.for_subject(sid)] if subject else [],
        "consents": len(uow.consents.for_subject(sid)) if subject else 0,
        "archive": None
        if record is None
        else (record.kind, record.reason, sorted(uow.archive.values(record)), record.archived_at),
        "receipts": [
            (r.cause, r.held_until, r.request_id, _plain(r.details), r.erased_at) for r in uow.receipts.for_subject(sid)
        ],
        "outbox": sorted(
            ((r.kind, r.state, r.attempts, r.last_error, _plain(dict(r.public)), r.next_attempt_at) for r in rows),
            key=repr,  # rows made at one instant are in id order, which differs between the sets
        ),
        "audit": [(action, _plain(details)) for subject_id, action, details in audit if subject_id == sid],
    }
