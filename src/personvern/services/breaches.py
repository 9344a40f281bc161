"""The breach register's use cases (GDPR Art. 33-34): record and update in phases, list by deadline, notify.

Every breach is recorded, notified or not (Art. 33(5)); only the CEO may handle them (the policy). Every change
goes into the audit chain with field names, ids and times, never the free text, which is the controller's own
record of what happened and may be sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.breaches import (
    EDITABLE,
    Breach,
    Notification,
    Recipient,
    check_authority_notice,
    check_breach,
    check_count,
    check_open,
    clean_categories,
    clean_text,
    parse_phase,
    parse_risk,
)
from personvern.domain.errors import Conflict, Forbidden, NotFound, invalid
from personvern.domain.sms import Encoding, Message, MessageStatus
from personvern.reports.breach import authority_report
from personvern.services import consent, outbox
from personvern.services.context import Context, new_id
from personvern.services.messaging import CHANNEL, RECIPIENT, compose
from personvern.services.ports import UnitOfWork

# The services speak of fields; each adapter says these with its own words (cli/words.py: the options).
NOTHING_TO_CHANGE = "nothing to change: give a fact to set, or an affected subject to add"
NOBODY_AFFECTED = "lists no affected person: add them to the breach first"

PURPOSE = "service"  # Art. 34 obliges the message whatever the relationship; it goes without an opt-out line


@dataclass(frozen=True)
class BreachInput:
    """What `breach add` and `breach update` were given; None is "not given" (kept as it is on update)."""

    description: str | None = None
    discovered_at: datetime | None = None
    occurred_at: datetime | None = None
    occurred_until: datetime | None = None
    cause: str | None = None
    categories: list[str] | None = None
    relation: str | None = None
    people: int | None = None
    records: int | None = None
    consequences: str | None = None
    measures_taken: str | None = None
    measures_planned: str | None = None
    data_location: str | None = None
    contact: str | None = None
    risk: str | None = None
    risk_reason: str | None = None
    subjects: list[str] = field(default_factory=list)  # affected subjects to add (never removed)


_TEXTS = (
    "description",
    "cause",
    "relation",
    "consequences",
    "measures_taken",
    "measures_planned",
    "data_location",
    "contact",
    "risk_reason",
)


def _changes(given: BreachInput) -> dict[str, Any]:
    """The given fields, each cleaned and checked on its own; an empty text clears the field."""
    out: dict[str, Any] = {}
    for name in _TEXTS:
        value = getattr(given, name)
        if value is not None:
            out[name] = clean_text(name, value)
    for name in ("discovered_at", "occurred_at", "occurred_until"):
        if getattr(given, name) is not None:
            out[name] = getattr(given, name)
    if given.categories is not None:
        out["categories"] = clean_categories(given.categories)
    for name in ("people", "records"):
        if getattr(given, name) is not None:
            out[name] = check_count(name, getattr(given, name))
    if given.risk is not None:
        out["risk"] = parse_risk(given.risk)
    return out


def _subjects(uow: UnitOfWork, given: list[str], held: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The affected subjects to add, each in the live register (checked without decrypting)."""
    new: list[str] = []
    for subject_id in given:
        sid = subject_id.strip()
        if sid in held or sid in new:
            continue
        if not uow.subjects.exists(sid):
            raise NotFound(f"subject: no subject with id {sid} in the register")
        new.append(sid)
    return tuple(new)


def add_breach(ctx: Context, given: BreachInput) -> Breach:
    """Record a breach as soon as it is known; the deadline is 72 hours after its discovery (Art. 33(1))."""
    ctx.actor.require(Permission.BREACH_MANAGE)
    if given.description is None or given.discovered_at is None:
        raise invalid("description" if given.description is None else "discovered_at", "is required")
    changes = _changes(given)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        subjects = _subjects(uow, given.subjects)
        breach = Breach(
            id=new_id(),
            description=changes.pop("description") or "",
            discovered_at=changes.pop("discovered_at"),
            recorded_at=now,
            recorded_by=ctx.actor.name,
            updated_at=now,
            subject_ids=subjects,
            **changes,
        )
        check_breach(breach, now)
        uow.breaches.add(breach)
        details = {
            "breach": breach.id,
            "discovered_at": breach.discovered_at.isoformat(),
            "deadline": breach.deadline.isoformat(),
            "fields": sorted(["description", "discovered_at", *changes]),
            "subjects": len(subjects),
        }
        ctx.record(uow, AuditEvent("breach.add", None, None, details), *_affects(breach.id, subjects))
        uow.commit()
    return breach


def _affects(breach_id: str, subjects: tuple[str, ...]) -> list[AuditEvent]:
    # In each person's own trail, so an access request shows the breach that concerned them (Art. 15, 34).
    return [AuditEvent("breach.affect", sid, None, {"breach": breach_id}) for sid in subjects]


def _get(uow: UnitOfWork, breach_id: str) -> Breach:
    breach = uow.breaches.get(breach_id)
    if breach is None:
        raise NotFound(f"no breach with id {breach_id} in the register")
    return breach


def update_breach(ctx: Context, breach_id: str, given: BreachInput) -> tuple[Breach, list[str]]:
    """Add what has become known (Art. 33(4): information may come in phases); returns the fields changed.

    A closed breach (the final notification given) is refused: its record stays as the authority was told it,
    and later facts come with a follow-up notification (`notify_authority` with `given`).
    """
    ctx.actor.require(Permission.BREACH_MANAGE)
    changes = _checked_changes(given)
    if not changes and not given.subjects:
        raise invalid("changes", NOTHING_TO_CHANGE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        held = _get(uow, breach_id)
        check_open(held)
        updated, changed = _apply(ctx, uow, held, given, changes, now)
        uow.commit()
    return updated, changed


def _checked_changes(given: BreachInput) -> dict[str, Any]:
    changes = _changes(given)
    if "description" in changes and not changes["description"]:
        raise invalid("description", "must not be empty")
    return changes


def _apply(
    ctx: Context, uow: UnitOfWork, held: Breach, given: BreachInput, changes: dict[str, Any], now: datetime
) -> tuple[Breach, list[str]]:
    """Store the changes to a breach and put them in the audit chain; refused when nothing would change."""
    added = _subjects(uow, given.subjects, held.subject_ids)
    changed = sorted(name for name in EDITABLE if name in changes and changes[name] != getattr(held, name))
    if not changed and not added:
        raise invalid("changes", "nothing changed: every value given is the one recorded")
    updated = replace(held, **changes, subject_ids=held.subject_ids + added, updated_at=now)
    check_breach(updated, now)
    uow.breaches.update(updated)
    details: dict[str, Any] = {"breach": held.id, "changed": changed, "subjects_added": len(added)}
    if "discovered_at" in changed:
        # The deadline moves with it: keep both instants in the trail (times, not personal data).
        details["discovered_at"] = [held.discovered_at.isoformat(), updated.discovered_at.isoformat()]
    ctx.record(uow, AuditEvent("breach.update", None, None, details), *_affects(held.id, added))
    return updated, changed


def list_breaches(ctx: Context, overdue_only: bool = False) -> list[Breach]:
    """Every breach, the latest discovered first; or only those overdue for the authority now."""
    ctx.actor.require(Permission.BREACH_MANAGE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        breaches = uow.breaches.all()
    return [b for b in breaches if b.overdue(now)] if overdue_only else breaches


def show_breach(ctx: Context, breach_id: str) -> Breach:
    ctx.actor.require(Permission.BREACH_MANAGE)
    with ctx.uow() as uow:
        return _get(uow, breach_id)


def report(ctx: Context, breach: Breach, lang: str | None = None) -> str:
    """The report for the authority's form, in one of the policy's languages (default: the first)."""
    language = lang or ctx.policy.languages[0]
    if language not in ctx.policy.languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(ctx.policy.languages)}")
    return authority_report(ctx.policy, breach, language, ctx.clock.now())


def notify_authority(
    ctx: Context,
    breach_id: str,
    reference: str | None,
    phase: str | None = None,
    late_reason: str | None = None,
    at: datetime | None = None,
    given: BreachInput | None = None,
) -> Notification:
    """Record that the authority was told (in Altinn): when, its reference, the phase; late needs a reason.

    `given` holds facts told with this notification: they are recorded with it, in one transaction, and the
    report kept with the notification includes them. After the final notification this is the only way in.
    """
    ctx.actor.require(Permission.BREACH_MANAGE)
    facts = given or BreachInput()
    changes = _checked_changes(facts)
    ref = clean_text("reference", reference)
    if ref is None:
        raise invalid("reference", "give the authority's reference for the notification (from Altinn)")
    reason = clean_text("late_reason", late_reason)
    chosen = parse_phase(phase)
    now = ctx.clock.now()
    when = at or now
    with ctx.uow() as uow:
        breach = _get(uow, breach_id)
        checked = check_authority_notice(breach, when, now, chosen, reason)
        if changes or facts.subjects:
            breach, _ = _apply(ctx, uow, breach, facts, changes, now)
            # A new discovery time moves the deadline: whether this one is late is judged on the record as told.
            checked = check_authority_notice(breach, when, now, chosen, reason)
        # What the authority was told, as the register said it then (Art. 33(5)); Norwegian for Datatilsynet.
        lang = "nb" if "nb" in ctx.policy.languages else ctx.policy.languages[0]
        notification = Notification(
            id=new_id(),
            breach_id=breach_id,
            recipient=Recipient.AUTHORITY,
            at=when,
            recorded_at=now,
            recorded_by=ctx.actor.name,
            phase=checked,
            reference=ref,
            late_reason=reason,
            content=authority_report(ctx.policy, breach, lang, when, checked),
        )
        uow.breaches.notify(notification)
        details = {
            "breach": breach_id,
            "recipient": Recipient.AUTHORITY.value,
            "phase": checked.value,
            "at": when.isoformat(),
            "late": when > breach.deadline and not breach.to_authority,
            "notification": notification.id,
        }
        ctx.record(uow, AuditEvent("breach.notify", None, None, details))
        uow.commit()
    return notification


@dataclass(frozen=True)
class SubjectsNotified:
    """What `breach notify --subjects` did: the messages queued, and who could not be reached, and why."""

    notification: Notification
    queued: list[tuple[str, str, str]]  # (subject id, message id, outbox row id)
    no_phone: list[str]
    not_in_register: list[str]  # erased or archived since the breach was recorded
    restricted: list[str]  # Art. 18: stored only, no message of any kind; tell them another way


def notify_subjects(ctx: Context, breach_id: str, text: str) -> SubjectsNotified:
    """Queue an SMS to each affected person (Art. 34) through the outbox, in one transaction with the record."""
    ctx.actor.require(Permission.BREACH_MANAGE)
    final, length = compose(PURPOSE, text)
    recipient = ctx.policy.recipients.get(RECIPIENT)
    if recipient is None or PURPOSE not in recipient.purposes or "phone" not in recipient.fields:
        raise Forbidden(f"the policy does not name {RECIPIENT} as a recipient of the phone number for {PURPOSE}")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        breach = _get(uow, breach_id)
        if not breach.subject_ids:
            raise invalid("subjects", f"breach {breach_id} {NOBODY_AFFECTED}")
        queued: list[tuple[str, str, str]] = []
        no_phone: list[str] = []
        gone: list[str] = []
        restricted: list[str] = []
        events: list[AuditEvent] = []
        for sid in breach.subject_ids:
            subject = uow.subjects.get(sid)
            if subject is None:
                gone.append(sid)
                continue
            if consent.is_restricted(uow, sid):
                restricted.append(sid)
                continue
            phone = subject.values.get("phone")
            if not phone:
                no_phone.append(sid)
                continue
            message_id = new_id()
            public = {"message_id": message_id, "purpose": PURPOSE, "channel": CHANNEL, "breach": breach_id}
            row = outbox.enqueue(ctx, uow, "sms", sid, public, {"destination": phone, "text": final})
            uow.messages.add(
                Message(
                    id=message_id,
                    subject_id=sid,
                    outbox_id=row.id,
                    channel=CHANNEL,
                    purpose=PURPOSE,
                    created_at=now,
                    segments=length.segments,
                    encoding=Encoding(length.encoding),
                    status=MessageStatus.PENDING,
                    updated_at=now,
                ),
                final,
            )
            queued.append((sid, message_id, row.id))
            details = {"breach": breach_id, "message": message_id, "row": row.id, "recipient": RECIPIENT}
            events.append(AuditEvent("sms.send", sid, PURPOSE, details | {"fields": ["phone"]}))
        if not queued:
            raise Conflict(
                f"nobody affected by breach {breach_id} can be reached by SMS ({_missed(no_phone, gone, restricted)}); "
                "nothing was queued: tell them another way (Art. 34(3)(c))"
            )
        outcome = {
            "queued": len(queued),
            "no_phone": no_phone,
            "not_in_register": gone,
            "restricted": restricted,
        }
        notification = Notification(
            id=new_id(),
            breach_id=breach_id,
            recipient=Recipient.SUBJECTS,
            at=now,
            recorded_at=now,
            recorded_by=ctx.actor.name,
            content=final,
            outcome=outcome,
        )
        uow.breaches.notify(notification)
        summary = {
            "breach": breach_id,
            "recipient": Recipient.SUBJECTS.value,
            "notification": notification.id,
            "queued": len(queued),
            "no_phone": len(no_phone),
            "not_in_register": len(gone),
            "restricted": len(restricted),
        }
        ctx.record(uow, AuditEvent("breach.notify", None, None, summary), *events)
        uow.commit()
    return SubjectsNotified(notification, queued, no_phone, gone, restricted)


def _missed(no_phone: list[str], gone: list[str], restricted: list[str]) -> str:
    parts = [
        f"{len(gone)} not in the register (erased or archived)" if gone else "",
        f"{len(no_phone)} without a mobile number" if no_phone else "",
        f"{len(restricted)} restricted (Art. 18)" if restricted else "",
    ]
    return ", ".join(p for p in parts if p)
