"""Reconciling HubSpot with the register: what it holds that it should not, whom it lacks, and (--fix) the remedy.

The contacts come page by page from a `ContactSource` (HubSpot's search API, paced to its limits); each page is
matched in a transaction of its own through the register's blind index of email addresses, so nothing in the
register is decrypted to compare (only HubSpot's addresses are hashed). The outbox says which HubSpot ids
belonged to people since erased or archived, and which people were shared. Every finding, and every fix, is an
audit entry with ids and the kind of finding only, never an address. `--fix` queues, through the outbox, a
`gdpr-delete` of each contact that should not be there and a share of each person missing there, and only after
a run that read every page; a deletion or share already queued is not queued again, so a daily run is safe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import MARKETING, BlockKind, marketing_block_reason
from personvern.domain.errors import NotReady
from personvern.domain.outbox import OutboxRow, OutboxState
from personvern.domain.reconcile import SHOULD_NOT_BE_THERE, WORDS, Finding, Found, Reconciliation
from personvern.domain.retention import local_day
from personvern.domain.values import BadValue, lookup_key, normalise_email
from personvern.policy.schema import FieldType
from personvern.services import outbox, processors
from personvern.services.context import Context, new_id
from personvern.services.ports import ContactSource, HeldContact, Lookup, UnitOfWork

AUDIENCE_PAGE = 1000


@dataclass
class _Known:
    """What the outbox tells of HubSpot: whose contact each id is, and what is already on its way."""

    shared: dict[str, str] = field(default_factory=dict)  # HubSpot id -> subject id (a delivered share)
    erased: dict[str, str | None] = field(default_factory=dict)  # HubSpot id -> the subject erased or archived
    deleting: set[str] = field(default_factory=set)  # HubSpot ids a queued deletion names
    sharing: set[str] = field(default_factory=set)  # subjects with a share queued
    upserts: dict[str, list[OutboxRow]] = field(default_factory=lambda: defaultdict(list))


def _known(uow: UnitOfWork) -> _Known:
    known = _Known()
    for row in uow.outbox.of_kinds([processors.UPSERT, processors.DELETE]):
        pending = row.state is OutboxState.PENDING
        if row.kind == processors.UPSERT and row.subject_id is not None:
            known.upserts[row.subject_id].append(row)
            found = (row.result or {}).get("hubspot_id")
            if row.state is OutboxState.DELIVERED and isinstance(found, str):
                known.shared[found] = row.subject_id
            if pending and row.public.get("reason") == "share":
                known.sharing.add(row.subject_id)
            continue
        ids = [str(i) for i in row.public.get("hubspot_ids") or []]
        if row.public.get("reason") == "erasure":
            subject = row.public.get("subject")
            for i in ids:
                known.erased[i] = subject if isinstance(subject, str) else None
        if pending:
            known.deleting.update(ids)
    return known


def _key(email: str | None) -> str | None:
    if not email:
        return None
    try:
        return lookup_key(FieldType.EMAIL, normalise_email(email))
    except BadValue:
        return None  # HubSpot holds an address the register could never have held


def _classify(ctx: Context, uow: UnitOfWork, page: list[HeldContact], known: _Known, matched: set[str]) -> list[Found]:
    """Each contact of one page that is a finding; the people it rightly holds go into `matched`."""
    keys = {c.id: _key(c.email) for c in page}
    live = uow.subjects.find_many("email", [k for k in keys.values() if k]) if "email" in ctx.policy.fields else {}
    owner: dict[str, str] = {}
    for c in page:
        sid = known.shared.get(c.id) or live.get(keys[c.id] or "")
        if sid is not None and c.id not in known.erased:
            owner[c.id] = sid
    facts = uow.retention.facts(set(owner.values()))
    out: list[Found] = []
    for c in page:
        pending = c.id in known.deleting
        if c.id in known.erased:
            out.append(Found(Finding.ERASED, c.id, known.erased[c.id], pending))
            continue
        sid = owner.get(c.id)
        if sid is None or sid not in facts:
            key = keys[c.id]
            archived = uow.archive.find(Lookup("email", key)) if key and "email" in ctx.policy.fields else []
            gone = sid if sid is not None else (archived[0].subject_id if archived else None)
            if gone is not None:
                out.append(Found(Finding.ERASED, c.id, gone, pending))  # archived or erased: processors told
            else:
                out.append(Found(Finding.UNKNOWN, c.id, None, pending))
            continue
        f = facts[sid]
        if any(b.active and b.kind is BlockKind.RESTRICTION for b in f.blocks):
            matched.add(sid)  # Art. 18: stored, not used; HubSpot was told to send nothing and may keep it
            continue
        if marketing_block_reason(f.consents, f.blocks, processors.HUBSPOT_CHANNEL) is None:
            matched.add(sid)  # marketing by email may reach them: HubSpot holds them rightly
            continue
        rows = known.upserts.get(sid, [])
        if not processors.may_hold_rows(rows):
            out.append(Found(Finding.NEVER_SHARED, c.id, sid, pending))
            continue
        purposes = {r.public.get("purpose") for r in rows if r.public.get("reason") == "share"}
        if purposes - {MARKETING}:
            matched.add(sid)  # shared for another purpose too, which the consent's end does not touch
            continue
        out.append(Found(Finding.BASIS_GONE, c.id, sid, pending))
    return out


def _audit(ctx: Context, uow: UnitOfWork, found: list[Found], run_id: str) -> None:
    events = [
        AuditEvent(
            "processor.reconcile",
            f.subject_id,
            None,
            {
                "recipient": processors.HUBSPOT,
                "run": run_id,
                "finding": f.finding.value,
                "external_id": f.external_id,
                "pending": f.pending,
                "fixed_by": f.fixed_by,
            },
        )
        for f in found
    ]
    ctx.record(uow, *events)


def _missing(ctx: Context, uow: UnitOfWork, known: _Known, matched: set[str]) -> list[Found]:
    """People marketing by email may reach whom HubSpot lacks (the audience's ids only, nothing decrypted)."""
    spec = ctx.policy.recipients.get(processors.HUBSPOT)
    if spec is None or MARKETING not in spec.purposes:
        return []
    out = []
    offset = 0
    while True:
        ids = uow.consents.audience_page(MARKETING, processors.HUBSPOT_CHANNEL, AUDIENCE_PAGE, offset)
        for sid in ids:
            if sid not in matched:
                out.append(Found(Finding.MISSING, None, sid, sid in known.sharing))
        if len(ids) < AUDIENCE_PAGE:
            return out
        offset += AUDIENCE_PAGE


def _fix(ctx: Context, uow: UnitOfWork, found: Found) -> Found:
    """Queue the remedy of one finding; a finding whose remedy is queued already, or that no one may decide
    from here (a contact the register does not know), is left as it is."""
    if found.pending:
        return found
    if found.finding in SHOULD_NOT_BE_THERE and found.external_id is not None:
        public: dict[str, Any] = {
            "subject": found.subject_id,
            "fields": [],
            "hubspot_ids": [found.external_id],
            "reason": f"reconcile: {found.finding.value}",
        }
        # By HubSpot's id alone: the register has no address to give for someone erased, and needs none.
        row = outbox.enqueue(ctx, uow, processors.DELETE, None, public, {})
        details = {"recipient": processors.HUBSPOT, "row": row.id, "kind": row.kind, "fields": []}
        ctx.record(uow, AuditEvent("processor.erase", found.subject_id, None, details))
        return Found(found.finding, found.external_id, found.subject_id, False, row.id)
    if found.finding is Finding.MISSING and found.subject_id is not None:
        subject = uow.subjects.get(found.subject_id)
        if subject is None or processors.LOOKUP not in subject.values:
            return found
        row = processors.share_with_hubspot(ctx, uow, subject, MARKETING)
        return Found(found.finding, None, found.subject_id, False, row.id)
    return found


def reconcile_hubspot(ctx: Context, source: ContactSource | None, fix: bool = False) -> Reconciliation:
    """Page through every contact HubSpot holds, compare with the register, and (`fix`) queue the remedies.

    `source` None: HubSpot has no credentials here. Raises NotReady when HubSpot cannot be read to the end; the
    run is recorded as incomplete, and nothing is fixed.
    """
    ctx.actor.require(Permission.PROCESSORS_RECONCILE)
    if source is None:
        raise NotReady("HubSpot cannot be read: set PERSONVERN_HUBSPOT_TOKEN")
    run = Reconciliation(new_id(), processors.HUBSPOT, ctx.clock.now(), ctx.actor.name, fix)
    with ctx.uow() as uow:
        known = _known(uow)
        uow.reconciliations.save(run)
        uow.commit()
    matched: set[str] = set()
    try:
        for page in source.pages():
            with ctx.uow() as uow:
                found = _classify(ctx, uow, page, known, matched)
                _audit(ctx, uow, found, run.id)
                run.pages += 1
                run.contacts += len(page)
                for f in found:
                    run.add(f)
                uow.reconciliations.save(run)
                uow.commit()
    except NotReady as exc:
        run.error, run.finished_at = str(exc), ctx.clock.now()
        with ctx.uow() as uow:
            uow.reconciliations.save(run)
            ctx.record(uow, AuditEvent("processors.reconcile", None, None, _summary(run)))
            uow.commit()
        raise
    with ctx.uow() as uow:
        missing = _missing(ctx, uow, known, matched)
        if fix:
            run.findings = [_fix(ctx, uow, f) for f in run.findings]
            missing = [_fix(ctx, uow, f) for f in missing]
            # Findings beyond those kept with the run are fixed by a second run: it finds them again.
        _audit(ctx, uow, missing, run.id)
        for f in missing:
            run.add(f)
        run.fixed = sum(1 for f in run.findings if f.fixed_by is not None)
        run.complete, run.finished_at = True, ctx.clock.now()
        uow.reconciliations.save(run)
        ctx.record(uow, AuditEvent("processors.reconcile", None, None, _summary(run)))
        uow.commit()
    return run


def _summary(run: Reconciliation) -> dict[str, Any]:
    return {
        "recipient": run.recipient,
        "run": run.id,
        "fix": run.fix,
        "complete": run.complete,
        "pages": run.pages,
        "contacts": run.contacts,
        "counts": dict(run.counts),
        "fixed": run.fixed,
    }


def last_run(ctx: Context, recipient: str = processors.HUBSPOT) -> Reconciliation | None:
    """The latest reconciliation with a processor, as it ended (or stands): for the dashboard and the API."""
    ctx.actor.require(Permission.PROCESSORS_RECONCILE)
    with ctx.uow() as uow:
        return uow.reconciliations.last(recipient)


def daily(ctx: Context, source: Callable[[], ContactSource | None]) -> str | None:
    """The worker's daily look at HubSpot (findings only, nothing fixed): a line for its output, or None when it
    ran today already or HubSpot cannot be reached for want of credentials (its rows say so themselves)."""
    today = local_day(ctx.clock.now(), ctx.policy)
    with ctx.uow() as uow:
        last = uow.reconciliations.last(processors.HUBSPOT)
    if last is not None and local_day(last.started_at, ctx.policy) >= today:
        return None
    contacts = source()
    if contacts is None:
        return None
    try:
        run = reconcile_hubspot(ctx, contacts)
    except NotReady as exc:
        return f"HubSpot reconciliation stopped: {exc}"
    return describe(run)


def describe(run: Reconciliation) -> str:
    """One line: how many contacts, and the findings in words."""
    parts = [f"{n} {WORDS[Finding(k)]}" for k, n in sorted(run.counts.items())]
    found = "; ".join(parts) if parts else "nothing to fix"
    fixed = f"; {run.fixed} fixed through the outbox" if run.fixed else ""
    return f"HubSpot reconciled: {run.contacts} contacts on {run.pages} pages: {found}{fixed}"
