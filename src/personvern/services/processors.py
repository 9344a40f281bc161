"""Processors and other recipients: what each received about a person, and telling them of rectification and erasure.

What a recipient received is read from the outbox (every row names its fields in its public part), so an
access request can list it (Art. 15(1)(c)). A rectification or an erasure is passed on to every recipient that
holds the person (Art. 17(2), 19): queued in the caller's transaction for those with a connector (HubSpot),
"nothing held" for a relay (LINK Mobility passes each SMS on and keeps no register), and "tell by hand" for
recipients without a connector that an accounting export gave the person to (Finago, the auditor); one that
never received them holds nothing. Every queued propagation is audited with the recipient and the field names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from personvern.domain.audit import AuditEvent
from personvern.domain.consent import MARKETING, marketing_block_reason
from personvern.domain.errors import Forbidden, invalid
from personvern.domain.outbox import CALLED_OFF, OutboxRow, OutboxState
from personvern.domain.subjects import Subject
from personvern.policy.schema import Policy, RecipientCategory
from personvern.services import outbox
from personvern.services.context import Context
from personvern.services.ports import ExportRecord, UnitOfWork

HUBSPOT = "hubspot"
UPSERT = "hubspot.upsert"
UNSUBSCRIBE = "hubspot.unsubscribe"
DELETE = "hubspot.delete"
HUBSPOT_CHANNEL = "email"  # HubSpot sends the marketing email; marketing SMS go through LINK Mobility
LOOKUP = "email"  # the field HubSpot knows a contact by

# Recipients that relay each message and keep no register of people: nothing to correct or erase there.
RELAYS = frozenset({"linkmobility"})

# The field a row of this kind sends, for kinds whose rows do not list their fields (SMS rows name the message).
KIND_FIELDS: dict[str, tuple[str, ...]] = {"sms": ("phone",), UNSUBSCRIBE: (LOOKUP,), DELETE: (LOOKUP,)}

# A deletion waits out the worker's lease (5 minutes, connectors/worker.py): an upsert a worker was sending when
# the person was erased has landed, or its lease has run out, before HubSpot is told to erase them.
ERASURE_DELAY = timedelta(minutes=10)

DELETION_QUEUED = "deletion queued"
UPDATE_QUEUED = "update queued"
NOTHING_HELD = "nothing held"
NO_CONNECTOR = "tell by hand: no connector"


@dataclass(frozen=True)
class Transfer:
    """What a processor actually received about one person (Art. 15(1)(c)): field names, never values."""

    recipient: str  # the policy's recipient key, e.g. "hubspot", "linkmobility"
    kinds: tuple[str, ...]  # outbox kinds, e.g. ("sms",) or ("hubspot.upsert",)
    fields: tuple[str, ...]  # field names sent (never values)
    first_at: datetime
    last_at: datetime
    delivered: int  # rows delivered
    pending: int  # rows still queued


@dataclass(frozen=True)
class ProcessorNotice:
    """What an erasure or rectification did towards one recipient."""

    recipient: str
    action: str  # "deletion queued" | "update queued" | "nothing held" | "tell by hand: <why>"
    row: str | None = field(default=None, compare=False)  # the outbox row that tells it, when one was queued


# ---------------------------------------------------------------- what each recipient received


def _fields(row: OutboxRow) -> tuple[str, ...]:
    listed = row.public.get("fields")
    if isinstance(listed, list):
        return tuple(str(f) for f in listed)
    return KIND_FIELDS.get(row.kind, ())


def transfers(uow: UnitOfWork, subject_id: str) -> list[Transfer]:
    """Per recipient, what the subject's outbox rows sent or are about to send (dead rows were given up on), and
    what accounting exports gave them (each export a disclosure of the fields it held)."""
    by_recipient: dict[str, list[OutboxRow]] = {}
    for row in uow.outbox.for_subject(subject_id):
        if row.state is not OutboxState.DEAD:
            by_recipient.setdefault(outbox.RECIPIENTS.get(row.kind, row.kind), []).append(row)
    found = _exported(uow, subject_id)
    for recipient, rows in by_recipient.items():
        times = [r.delivered_at or r.created_at for r in rows]
        found.append(
            Transfer(
                recipient=recipient,
                kinds=tuple(sorted({r.kind for r in rows})),
                fields=tuple(sorted({f for r in rows for f in _fields(r)})),
                first_at=min(times),
                last_at=max(times),
                delivered=sum(1 for r in rows if r.state is OutboxState.DELIVERED),
                pending=sum(1 for r in rows if r.state is OutboxState.PENDING),
            )
        )
    return sorted(found, key=lambda t: (t.first_at, t.recipient))


def _exported(uow: UnitOfWork, subject_id: str) -> list[Transfer]:
    by_recipient: dict[str, list[ExportRecord]] = {}
    for export in uow.exports.for_subject(subject_id):
        by_recipient.setdefault(export.recipient, []).append(export)
    return [
        Transfer(
            recipient=recipient,
            kinds=tuple(sorted({f"export.{e.kind}" for e in done})),
            fields=tuple(sorted({f for e in done for f in e.fields})),
            first_at=min(e.at for e in done),
            last_at=max(e.at for e in done),
            delivered=len(done),
            pending=0,
        )
        for recipient, done in by_recipient.items()
    ]


# ---------------------------------------------------------------- HubSpot: what it may hold


def _hubspot_rows(uow: UnitOfWork, subject_id: str) -> list[OutboxRow]:
    return [r for r in uow.outbox.for_subject(subject_id) if r.kind == UPSERT]


def _may_hold(rows: Iterable[OutboxRow]) -> bool:
    """Delivered or still queued; or given up on after an attempt, which may have reached HubSpot (a timeout)."""
    return any(r.state is not OutboxState.DEAD or r.attempts > 0 for r in rows)


def _hubspot_ids(rows: Iterable[OutboxRow]) -> list[str]:
    """The contact ids HubSpot gave back, oldest first: they find the contact even after its email changed."""
    ids: list[str] = []
    for row in rows:
        found = (row.result or {}).get("hubspot_id")
        if isinstance(found, str) and found not in ids:
            ids.append(found)
    return ids


def _receives(policy: Policy, purpose: str) -> bool:
    recipient = policy.recipients.get(HUBSPOT)
    return recipient is not None and purpose in recipient.purposes


def _event(action: str, subject_id: str, purpose: str | None, row: OutboxRow) -> AuditEvent:
    details = {"recipient": HUBSPOT, "row": row.id, "kind": row.kind, "fields": list(_fields(row))}
    return AuditEvent(action, subject_id, purpose, details)


def _audit(ctx: Context, uow: UnitOfWork, action: str, subject_id: str, purpose: str | None, row: OutboxRow) -> None:
    ctx.record(uow, _event(action, subject_id, purpose, row))


def share_with_hubspot(ctx: Context, uow: UnitOfWork, subject: Subject, purpose: str) -> OutboxRow:
    """Queue the person's declared fields for HubSpot (create or update its contact), in the caller's transaction.

    Only the fields the policy's `recipients.hubspot.fields` declare, and only for a purpose the policy names
    for HubSpot: a processor acts on the controller's documented instructions alone (Art. 28(3)(a)).
    """
    row = _share(ctx, subject, purpose, _hubspot_ids(_hubspot_rows(uow, subject.id)))
    uow.outbox.enqueue(row)
    _audit(ctx, uow, "processor.share", subject.id, purpose, row)
    return row


def _share(ctx: Context, subject: Subject, purpose: str, known: list[str]) -> OutboxRow:
    recipient = ctx.policy.recipients.get(HUBSPOT)
    if recipient is None or purpose not in recipient.purposes:
        raise Forbidden(f"the policy does not name HubSpot as a recipient for {purpose}")
    if LOOKUP not in subject.values:
        raise invalid(LOOKUP, f"HubSpot keeps contacts by email address; subject {subject.id} has none")
    fields = [f for f in recipient.fields if f in subject.values]
    public: dict[str, Any] = {
        "purpose": purpose,
        "legal_basis": ctx.policy.purposes[purpose].legal_basis.value,
        "fields": fields,
        "reason": "share",
    }
    if known:
        public["hubspot_id"] = known[-1]
    return outbox.pending(ctx, UPSERT, subject.id, public, {f: subject.values[f] for f in fields})


def consents_imported(ctx: Context, uow: UnitOfWork, subjects: Sequence[Subject]) -> int:
    """Imported people who consented to marketing by email are shared with HubSpot, as `consent give` shares them.

    They are new to the register: nothing of theirs is in the outbox yet, and nothing blocks marketing to them,
    so no one's rows are read. Returns how many shares were queued.
    """
    if not _receives(ctx.policy, MARKETING):
        return 0
    rows = [_share(ctx, s, MARKETING, []) for s in subjects if LOOKUP in s.values]
    uow.outbox.enqueue_many(rows)
    ctx.record(uow, *(_event("processor.share", r.subject_id or "", MARKETING, r) for r in rows))
    return len(rows)


# ---------------------------------------------------------------- consent and objection (called by services.consent)


def consent_given(ctx: Context, uow: UnitOfWork, subject_id: str, purpose: str, channel: str) -> None:
    """Consent to marketing by email shares the person with HubSpot, once marketing may reach them on it."""
    if purpose != MARKETING or channel != HUBSPOT_CHANNEL or not _receives(ctx.policy, purpose):
        return
    blocked = marketing_block_reason(uow.consents.for_subject(subject_id), uow.blocks.for_subject(subject_id), channel)
    if blocked is not None:
        return  # e.g. restricted (Art. 18): the consent is recorded, nothing is passed on
    subject = uow.subjects.get(subject_id)
    if subject is not None and LOOKUP in subject.values:
        share_with_hubspot(ctx, uow, subject, purpose)


def marketing_stopped(
    ctx: Context,
    uow: UnitOfWork,
    subject_id: str,
    purpose: str,
    channel: str | None,
    reason: str | None = None,
) -> OutboxRow | None:
    """Email consent withdrawn (Art. 7(3)), an objection to marketing (Art. 21(3); channel None) or a restriction
    (Art. 18; `reason` "restriction"): HubSpot stops. Returns the row that tells it, if one was queued.

    A share not yet delivered is called off (its basis is gone); if HubSpot holds the person, or may, it is
    told to send them no more email.
    """
    if purpose != MARKETING or channel not in (None, HUBSPOT_CHANNEL):
        return None
    why = reason or _why(channel)
    now = ctx.clock.now()
    for row in _hubspot_rows(uow, subject_id):
        # One a worker is sending right now (leased) is left alone: HubSpot may have it already, and is told below.
        in_flight = row.lease_until is not None and row.lease_until > now
        if row.state is OutboxState.PENDING and row.public.get("reason") == "share" and not in_flight:
            uow.outbox.cancel(row.id, f"{CALLED_OFF}{why} before it was delivered")
            _audit(ctx, uow, "processor.call_off", subject_id, purpose, row)
    rows = _hubspot_rows(uow, subject_id)
    if not _may_hold(rows) or standing_unsubscribe(uow, subject_id) is not None:
        return None
    subject = uow.subjects.get(subject_id)
    if subject is None or LOOKUP not in subject.values:
        return None
    public = {"purpose": purpose, "fields": [LOOKUP], "reason": why}
    row = outbox.enqueue(ctx, uow, UNSUBSCRIBE, subject_id, public, {LOOKUP: subject.values[LOOKUP]})
    _audit(ctx, uow, "processor.unsubscribe", subject_id, purpose, row)
    return row


def standing_unsubscribe(uow: UnitOfWork, subject_id: str) -> OutboxRow | None:
    """The unsubscribe HubSpot was (or is about to be) sent, when nothing was shared with it since; else None."""
    rows = uow.outbox.for_subject(subject_id)
    told = [r for r in rows if r.kind == UNSUBSCRIBE and r.state is not OutboxState.DEAD]
    shared = [r.created_at for r in rows if r.kind == UPSERT and r.public.get("reason") == "share" and _may_hold([r])]
    if not told or (shared and told[-1].created_at < max(shared)):
        return None
    return told[-1]


def may_hold(uow: UnitOfWork, subject_id: str) -> bool:
    """Whether HubSpot holds the person, or may (a share delivered, queued, or tried)."""
    return _may_hold(_hubspot_rows(uow, subject_id))


def may_hold_rows(rows: Iterable[OutboxRow]) -> bool:
    return _may_hold(rows)


def _why(channel: str | None) -> str:
    return "objection" if channel is None else "consent withdrawn"


# ---------------------------------------------------------------- rectification and erasure (Art. 16, 17, 19)


def _recipients(policy: Policy) -> Iterable[tuple[str, Sequence[str]]]:
    for name, recipient in policy.recipients.items():
        if recipient.category is not RecipientCategory.INTERNAL:
            yield name, recipient.fields


def propagate_change(
    ctx: Context, uow: UnitOfWork, subject: Subject, changed: Collection[str]
) -> list[ProcessorNotice]:
    """Tell each recipient whose declared fields include a changed one (Art. 19); `subject` as it is now.

    A field in `changed` the subject no longer has was removed: HubSpot is told to clear it.
    """
    notices = []
    disclosed = uow.exports.recipients_of([subject.id]).get(subject.id, set())
    for name, declared in _recipients(ctx.policy):
        concerned = [f for f in declared if f in changed]
        if not concerned:
            continue
        if name == HUBSPOT:
            notices.append(_update_hubspot(ctx, uow, subject, concerned))
        elif name in RELAYS or name not in disclosed:
            notices.append(ProcessorNotice(name, NOTHING_HELD))
        else:
            notices.append(ProcessorNotice(name, NO_CONNECTOR))
    return notices


def _update_hubspot(ctx: Context, uow: UnitOfWork, subject: Subject, concerned: list[str]) -> ProcessorNotice:
    rows = _hubspot_rows(uow, subject.id)
    if not _may_hold(rows):
        return ProcessorNotice(HUBSPOT, NOTHING_HELD)
    if LOOKUP not in subject.values:
        return ProcessorNotice(HUBSPOT, "tell by hand: the person has no email address to find the contact by")
    fields = concerned if LOOKUP in concerned else [*concerned, LOOKUP]
    purposes = [r.public["purpose"] for r in rows if isinstance(r.public.get("purpose"), str)]
    purpose = purposes[-1] if purposes else None  # the purpose HubSpot holds the person for
    # update_only: a correction must not create a contact HubSpot no longer holds (that would be a new disclosure).
    public: dict[str, Any] = {"purpose": purpose, "fields": fields, "reason": "rectification", "update_only": True}
    known = _hubspot_ids(rows)
    if known:
        public["hubspot_id"] = known[-1]
    personal = {f: subject.values.get(f, "") for f in fields}  # "" clears what HubSpot holds for a removed field
    row = outbox.enqueue(ctx, uow, UPSERT, subject.id, public, personal)
    _audit(ctx, uow, "processor.update", subject.id, purpose, row)
    return ProcessorNotice(HUBSPOT, UPDATE_QUEUED, row.id)


@dataclass(frozen=True)
class Told:
    """What an erasure told the recipients of one person, and the audit entries of the rows it queued."""

    notices: tuple[ProcessorNotice, ...]  # one per recipient
    events: tuple[AuditEvent, ...]  # to go into the chain before the person's own erasure or archiving entry


def propagate_erasure(ctx: Context, uow: UnitOfWork, subject: Subject) -> list[ProcessorNotice]:
    """Tell each recipient of an erasure (Art. 17(2), 19), in the caller's transaction; one notice per recipient.

    The caller erases the register and calls `uow.outbox.forget_subject` itself. The `hubspot.delete` row
    survives that: it carries no subject id (the person's id is in its public part, so that its delivery is
    audited under it), only the email address sealed under the row's own key until HubSpot has it.
    """
    rows = _hubspot_rows(uow, subject.id)
    disclosed = uow.exports.recipients_of([subject.id]).get(subject.id, set())
    told = _tell_of_erasure(ctx, uow, subject.id, subject.values, rows, subject.values.get(LOOKUP), disclosed)
    ctx.record(uow, *told.events)
    return list(told.notices)


def propagate_erasures(ctx: Context, uow: UnitOfWork, present: Mapping[str, Collection[str]]) -> dict[str, Told]:
    """`propagate_erasure` for many people, given the names of the fields each holds; the caller records the events.

    Nothing is decrypted for a person HubSpot cannot hold: one query over the outbox finds the few it may hold
    (most people were never shared with it), and only their email address is read, to find the contact by.
    """
    rows = uow.outbox.for_subjects(list(present), UPSERT)
    holders = [sid for sid in present if _may_hold(rows.get(sid, ()))]
    emails: dict[str, str] = {}
    if holders:
        found = uow.subjects.get_many(holders, [LOOKUP])
        emails = {s.id: s.values[LOOKUP] for s in found if LOOKUP in s.values}
    recipients = list(_recipients(ctx.policy))
    disclosed = uow.exports.recipients_of(list(present))  # one query: who an accounting export gave them to
    told: dict[str, Told] = {}
    # HubSpot never had them: the notices depend on their fields and the exports they were in alone.
    unshared: dict[tuple[frozenset[str], frozenset[str]], Told] = {}
    for sid, fields in present.items():
        given = disclosed.get(sid, set())
        if sid in rows:
            told[sid] = _tell_of_erasure(ctx, uow, sid, fields, rows[sid], emails.get(sid), given, recipients)
            continue
        key = (frozenset(fields), frozenset(given))
        if key not in unshared:
            unshared[key] = _tell_of_erasure(ctx, uow, sid, fields, [], None, given, recipients)
        told[sid] = unshared[key]
    return told


def _tell_of_erasure(
    ctx: Context,
    uow: UnitOfWork,
    subject_id: str,
    present: Collection[str],
    rows: list[OutboxRow],
    email: str | None,
    disclosed: Collection[str],
    recipients: Sequence[tuple[str, Sequence[str]]] | None = None,
) -> Told:
    """One person's erasure towards each recipient; `rows`: its HubSpot upserts, `present`: the fields it holds,
    `disclosed`: the recipients an accounting export gave it to."""
    notices, events = [], []
    for name, declared in recipients if recipients is not None else _recipients(ctx.policy):
        if name == HUBSPOT:
            notice, event = _erase_hubspot(ctx, uow, subject_id, rows, email)
            notices.append(notice)
            if event is not None:
                events.append(event)
        elif name in RELAYS or name not in disclosed or not any(f in present for f in declared):
            notices.append(ProcessorNotice(name, NOTHING_HELD))
        else:
            notices.append(ProcessorNotice(name, NO_CONNECTOR))
    return Told(tuple(notices), tuple(events))


def _erase_hubspot(
    ctx: Context, uow: UnitOfWork, subject_id: str, rows: list[OutboxRow], email: str | None
) -> tuple[ProcessorNotice, AuditEvent | None]:
    if not _may_hold(rows):
        return ProcessorNotice(HUBSPOT, NOTHING_HELD), None
    ids = _hubspot_ids(rows)
    if email is None and not ids:
        return ProcessorNotice(HUBSPOT, "tell by hand: no email address or HubSpot id to find the contact by"), None
    public = {"subject": subject_id, "fields": [LOOKUP] if email else [], "hubspot_ids": ids, "reason": "erasure"}
    personal = {LOOKUP: email} if email else {}
    due = ctx.clock.now() + ERASURE_DELAY
    row = outbox.enqueue(ctx, uow, DELETE, None, public, personal, due=due)
    return ProcessorNotice(HUBSPOT, DELETION_QUEUED, row.id), _event("processor.erase", subject_id, None, row)
