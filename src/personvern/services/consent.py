"""Consent, objection and restriction: the ledger's use cases, consent receipts and the marketing audience."""

from __future__ import annotations

import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import (
    MARKETING,
    Block,
    BlockKind,
    ConsentAction,
    ConsentEvent,
    ConsentMethod,
    EffectiveConsent,
    channel_field,
    check_consent_target,
    check_method,
    check_notice,
    check_objection_purpose,
    current_state,
    effective_consents,
    marketing_block_reason,
    objections_lifted_by,
)
from personvern.domain.errors import Conflict, NotFound, invalid
from personvern.policy.schema import LegalBasis, Policy, RecipientCategory
from personvern.services import outbox, processors
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork
from personvern.services.register import require_subject
from personvern.services.retention import refresh

MAX_REASON = 500
MAX_PAGE = 10_000
RECEIPT_VERSION = "KI-CR-v1.1.0"
COLLECTION_METHODS = {
    ConsentMethod.WEB: "web form",
    ConsentMethod.PHONE: "telephone call",
    ConsentMethod.PAPER: "signed paper form",
    ConsentMethod.IMPORT: "imported from an earlier register",
    ConsentMethod.SMS_REPLY: "reply by SMS",
}


@dataclass(frozen=True)
class ConsentRecorded:
    """A consent event appended to the ledger, and the objections a fresh consent ended."""

    event: ConsentEvent
    lifted: list[Block]


@dataclass(frozen=True)
class Ledger:
    """A subject's whole consent record: every event, the state derived from them, and every block."""

    subject_id: str
    events: list[ConsentEvent]
    state: dict[tuple[str, str], ConsentEvent]  # the latest event per (purpose, channel)
    blocks: list[Block]
    marketing: dict[str, str | None]  # per channel: None when marketing may reach the person, else why not
    # Per purpose and channel, the state the rules decide (`domain.consent.effective_consents`), with why.
    effective: list[EffectiveConsent] = field(default_factory=list)

    @property
    def active_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.active]


@dataclass(frozen=True)
class AudienceMember:
    subject_id: str
    address: str | None  # the phone number or email address the channel reaches


# ---------------------------------------------------------------- helpers others call inside their transaction


def is_restricted(uow: UnitOfWork, subject_id: str) -> bool:
    """Whether processing of the subject is restricted (Art. 18): nothing beyond storage, no message of any kind."""
    return any(b.active and b.kind is BlockKind.RESTRICTION for b in uow.blocks.for_subject(subject_id))


def marketing_block_reason_for(uow: UnitOfWork, subject_id: str, channel: str, policy: Policy) -> str | None:
    """None when marketing on `channel` may reach the subject now; otherwise the rule that stops it."""
    check_consent_target(policy, MARKETING, channel)
    return marketing_block_reason(uow.consents.for_subject(subject_id), uow.blocks.for_subject(subject_id), channel)


# ---------------------------------------------------------------- recording consent


def _notice(ctx: Context, notice_sha256: str | None) -> str:
    if notice_sha256 is not None:
        return check_notice(notice_sha256)
    shown = ctx.notice_sha256 or ctx.policy_sha256  # the notice in force; the policy where none was published
    if not shown:
        # Art. 7(1): a consent the controller cannot tie to what the person was told cannot be shown later.
        raise invalid("notice", "no privacy notice is known: give the sha256 of the notice the person saw")
    return check_notice(shown)


def _successor_id(previous: ConsentEvent | None, at: datetime) -> str:
    """A fresh id that orders after `previous` when both share an instant, so the ledger keeps their order."""
    candidate = new_id()
    if previous is not None and previous.at == at and candidate <= previous.id:
        # An id not of our hexadecimal kind cannot be counted on; a time-ordered fresh id is the best there is.
        with suppress(ValueError):
            candidate = f"{int(previous.id, 16) + 1:0{len(candidate)}x}"
    return candidate


def _append(
    ctx: Context,
    uow: UnitOfWork,
    subject_id: str,
    purpose: str,
    channel: str,
    action: ConsentAction,
    method: ConsentMethod,
    notice: str,
) -> ConsentEvent:
    now = ctx.clock.now()
    previous = uow.consents.latest(subject_id, purpose, channel)
    if action is ConsentAction.WITHDRAWN and (previous is None or previous.action is not ConsentAction.GIVEN):
        raise Conflict(
            f"subject {subject_id} has no consent to {purpose} by {channel} to withdraw "
            "(Art. 7(3) withdraws a consent that was given)"
        )
    if previous is not None and previous.at > now:
        # The state is the latest event; one dated before it would silently not count.
        raise Conflict(
            f"the ledger of subject {subject_id} has a later event for {purpose} by {channel} "
            f"({previous.at.isoformat()}); events are appended in time order"
        )
    event = ConsentEvent(
        _successor_id(previous, now),
        subject_id,
        purpose,
        channel,
        action,
        now,
        method,
        ctx.actor.name,
        ctx.actor.role,
        notice,
    )
    uow.consents.append(event)
    return event


def _consent_audit(event: ConsentEvent) -> AuditEvent:
    return AuditEvent(
        f"consent.{'give' if event.action is ConsentAction.GIVEN else 'withdraw'}",
        event.subject_id,
        event.purpose,
        {"event": event.id, "channel": event.channel, "method": event.method.value, "notice": event.notice_sha256},
    )


def _checked_request(
    ctx: Context, purpose: str, channel: str, method: str, notice_sha256: str | None
) -> tuple[ConsentMethod, str]:
    """What giving and withdrawing both check first: the role, the target, the method and the notice."""
    ctx.actor.require(Permission.CONSENT_RECORD)
    check_consent_target(ctx.policy, purpose, channel)
    return check_method(method), _notice(ctx, notice_sha256)


def give_consent(
    ctx: Context,
    subject_id: str,
    purpose: str,
    channel: str,
    method: str,
    notice_sha256: str | None = None,
) -> ConsentRecorded:
    """Record a consent; a fresh one ends the person's objections to that purpose set before it (Art. 21(3))."""
    how, notice = _checked_request(ctx, purpose, channel, method, notice_sha256)
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        event = _append(ctx, uow, subject_id, purpose, channel, ConsentAction.GIVEN, how, notice)
        lifted = [
            block.lifted(event.at, ctx.actor.name, f"fresh consent {event.id} to {purpose} by {channel}")
            for block in objections_lifted_by(uow.blocks.for_subject(subject_id), event)
        ]
        for block in lifted:
            uow.blocks.lift(block)
        refresh(ctx, uow, [subject_id])
        ctx.record(
            uow,
            _consent_audit(event),
            *(AuditEvent("objection.lift", subject_id, purpose, {"block": b.id, "consent": event.id}) for b in lifted),
        )
        processors.consent_given(ctx, uow, subject_id, purpose, channel)  # email marketing: HubSpot receives them
        uow.commit()
    return ConsentRecorded(event, lifted)


def withdraw_consent(
    ctx: Context,
    subject_id: str,
    purpose: str,
    channel: str,
    method: str,
    notice_sha256: str | None = None,
) -> ConsentRecorded:
    """Record a withdrawal (Art. 7(3)); withdrawing what was never given, or was withdrawn, is refused."""
    how, notice = _checked_request(ctx, purpose, channel, method, notice_sha256)
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        event = _append(ctx, uow, subject_id, purpose, channel, ConsentAction.WITHDRAWN, how, notice)
        refresh(ctx, uow, [subject_id])  # a withdrawal ends the consent's reason to keep the data at once
        ctx.record(uow, _consent_audit(event))
        processors.marketing_stopped(ctx, uow, subject_id, purpose, channel)  # HubSpot sends no more email
        outbox.cancel_forbidden(ctx, uow, subject_id)  # e.g. a marketing SMS still queued (Art. 7(3))
        uow.commit()
    return ConsentRecorded(event, [])


def withdraw_by_reply(ctx: Context, subject_id: str, channel: str = "sms") -> ConsentRecorded | None:
    """A reply such as «STOPP» withdraws marketing consent on its channel (Art. 7(3): as easy as giving it).

    Unlike `withdraw_consent`, a reply from someone with no consent in force changes nothing and is no error:
    the person cannot know the state of the ledger.
    """
    ctx.actor.require(Permission.CONSENT_RECORD)
    check_consent_target(ctx.policy, MARKETING, channel)
    notice = _notice(ctx, None)
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        latest = uow.consents.latest(subject_id, MARKETING, channel)
        if latest is None or latest.action is not ConsentAction.GIVEN:
            return None
        event = _append(
            ctx, uow, subject_id, MARKETING, channel, ConsentAction.WITHDRAWN, ConsentMethod.SMS_REPLY, notice
        )
        refresh(ctx, uow, [subject_id])
        ctx.record(uow, _consent_audit(event))
        processors.marketing_stopped(ctx, uow, subject_id, MARKETING, channel)
        outbox.cancel_forbidden(ctx, uow, subject_id)  # the marketing SMS still queued do not go
        uow.commit()
    return ConsentRecorded(event, [])


# ---------------------------------------------------------------- objection and restriction


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise invalid("reason", "must not contain control characters")
    if len(cleaned) > MAX_REASON:
        raise invalid("reason", f"must be at most {MAX_REASON} characters (got {len(cleaned)})")
    return cleaned


def object_to(ctx: Context, subject_id: str, purpose: str = MARKETING, reason: str | None = None) -> Block:
    """Record an objection: marketing stops whatever the consent says, until a fresh consent (Art. 21(2)-(3))."""
    ctx.actor.require(Permission.CONSENT_RECORD)
    check_objection_purpose(ctx.policy, purpose)
    why = _reason(reason)
    with ctx.uow() as uow:
        block = set_objection(ctx, uow, subject_id, purpose, why)
        uow.commit()
    return block


def set_objection(ctx: Context, uow: UnitOfWork, subject_id: str, purpose: str, why: str | None) -> Block:
    """The objection inside the caller's transaction (also used by an objection request)."""
    require_subject(uow, subject_id)
    for held in uow.blocks.for_subject(subject_id):
        if held.active and held.kind is BlockKind.OBJECTION and held.purpose == purpose:
            raise Conflict(
                f"subject {subject_id} already objects to {purpose} (since {held.set_at.date().isoformat()})"
            )
    block = Block(new_id(), subject_id, BlockKind.OBJECTION, purpose, ctx.clock.now(), ctx.actor.name, why)
    uow.blocks.add(block)
    refresh(ctx, uow, [subject_id])  # an objection ends the consent's reason and makes the action erasure
    # The reason is free text and may describe the person: it is stored sealed, never audited.
    ctx.record(uow, AuditEvent("objection.set", subject_id, purpose, {"block": block.id}))
    processors.marketing_stopped(ctx, uow, subject_id, purpose, None)  # every channel, HubSpot's email too
    outbox.cancel_forbidden(ctx, uow, subject_id)  # Art. 21(3): queued marketing SMS do not go either
    return block


def restrict(ctx: Context, subject_id: str, lift: bool = False, reason: str | None = None) -> Block:
    """Restrict processing (Art. 18(1)): the data is stored, nothing more; or lift the restriction (Art. 18(3))."""
    ctx.actor.require(Permission.CONSENT_RECORD)
    why = _reason(reason)
    with ctx.uow() as uow:
        block = set_restriction(ctx, uow, subject_id, lift, why)
        uow.commit()
    return block


def set_restriction(ctx: Context, uow: UnitOfWork, subject_id: str, lift: bool, why: str | None) -> Block:
    """The restriction, or its lifting, inside the caller's transaction (also used by a restriction request)."""
    now = ctx.clock.now()
    require_subject(uow, subject_id)
    active = [b for b in uow.blocks.for_subject(subject_id) if b.active and b.kind is BlockKind.RESTRICTION]
    if lift:
        if not active:
            raise Conflict(f"subject {subject_id} is not restricted; there is nothing to lift")
        block = active[0].lifted(now, ctx.actor.name, why)
        uow.blocks.lift(block)
        ctx.record(uow, AuditEvent("restriction.lift", subject_id, None, {"block": block.id}))
    else:
        if active:
            since = active[0].set_at.date().isoformat()
            raise Conflict(f"subject {subject_id} is already restricted (since {since})")
        block = Block(new_id(), subject_id, BlockKind.RESTRICTION, None, now, ctx.actor.name, why)
        uow.blocks.add(block)
        ctx.record(uow, AuditEvent("restriction.set", subject_id, None, {"block": block.id}))
        # Art. 18(2): nothing beyond storage, so queued SMS and HubSpot shares are cancelled; a correction
        # HubSpot is owed (Art. 19) waits for the lifting instead (see outbox.clearance). HubSpot, which may
        # hold the person for email marketing, is told to send nothing more (Art. 19); it keeps the contact.
        outbox.cancel_forbidden(ctx, uow, subject_id)
        processors.marketing_stopped(ctx, uow, subject_id, MARKETING, None, reason="restriction")
    refresh(ctx, uow, [subject_id])  # Art. 18: restricted data is stored, not erased, while it lasts
    return block


# ---------------------------------------------------------------- reading the ledger


def consent_ledger(ctx: Context, subject_id: str) -> Ledger:
    ctx.actor.require(Permission.CONSENT_READ)
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        events = uow.consents.for_subject(subject_id)
        blocks = uow.blocks.for_subject(subject_id)
        ctx.record(uow, AuditEvent("consent.read", subject_id, MARKETING, {"events": len(events)}))
        uow.commit()
    channels = ctx.policy.purposes[MARKETING].channels if MARKETING in ctx.policy.purposes else []
    marketing = {channel: marketing_block_reason(events, blocks, channel) for channel in channels}
    effective = effective_consents(ctx.policy, events, blocks)
    return Ledger(subject_id, events, current_state(events), blocks, marketing, effective)


def receipt(ctx: Context, event_id: str, lang: str | None = None, subject_id: str | None = None) -> dict[str, Any]:
    """The consent receipt of one ledger event, in the Kantara Consent Receipt v1.1 layout (proof, Art. 7(1))."""
    ctx.actor.require(Permission.CONSENT_READ)
    language = lang or ctx.policy.languages[0]
    if language not in ctx.policy.languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(ctx.policy.languages)}")
    with ctx.uow() as uow:
        event = uow.consents.get(event_id)
        if event is None or (subject_id is not None and event.subject_id != subject_id):
            whose = f" of subject {subject_id}" if subject_id is not None else ""
            raise NotFound(f"no consent event with id {event_id} in the ledger{whose}")
        ctx.record(uow, AuditEvent("consent.receipt", event.subject_id, event.purpose, {"event": event.id}))
        uow.commit()
    return kantara_receipt(ctx.policy, event, language)


def kantara_receipt(policy: Policy, event: ConsentEvent, lang: str) -> dict[str, Any]:
    purpose = policy.purposes[event.purpose]
    controller = policy.controller
    recipients = [
        r.name
        for r in policy.recipients.values()
        if event.purpose in r.purposes and r.category is not RecipientCategory.INTERNAL
    ]
    termination = [r.description.get(lang) for r in policy.retention.values() if r.purpose == event.purpose]
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": controller.country,
        "consentTimestamp": int(event.at.timestamp()),
        "collectionMethod": COLLECTION_METHODS[event.method],
        "consentReceiptID": event.id,
        "language": lang,
        # The pseudonymous register id, never a name: the receipt may travel (Art. 5(1)(c)).
        "piiPrincipalId": event.subject_id,
        "piiControllers": [
            {
                "piiController": controller.name,
                "onBehalf": False,
                "contact": policy.privacy_contact.role.get(lang),
                "address": {
                    "streetAddress": controller.address,
                    "postalCode": controller.postal_code,
                    "addressLocality": controller.city,
                    "addressCountry": controller.country,
                },
                "email": policy.privacy_contact.email,
                "phone": policy.privacy_contact.phone or controller.phone or "",
                "piiControllerUrl": controller.website or "",
            }
        ],
        "policyUrl": controller.website or "",
        "services": [
            {
                "service": f"{purpose.label.get(lang)} ({event.channel})",
                "purposes": [
                    {
                        "purpose": purpose.description.get(lang),
                        "purposeCategory": [event.purpose],
                        "consentType": "EXPLICIT",
                        "piiCategory": [n for n, f in policy.fields.items() if event.purpose in f.purposes],
                        "primaryPurpose": purpose.legal_basis is LegalBasis.CONTRACT,
                        "termination": " ".join(termination),
                        "thirdPartyDisclosure": bool(recipients),
                        "thirdPartyName": ", ".join(recipients),
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        # Beyond the v1.1 fields: what this event was, and the notice the person saw (Art. 7(1)).
        "personvern": {
            "action": event.action.value,
            "purpose": event.purpose,
            "channel": event.channel,
            "method": event.method.value,
            "noticeSha256": event.notice_sha256,  # None: given before this register; `proof` says where it is shown
            "proof": event.proof,
            "recordedByRole": event.role,
        },
    }


# ---------------------------------------------------------------- the marketing audience


def marketing_audience(
    ctx: Context,
    channel: str,
    count_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> int | list[AudienceMember]:
    """Who marketing on `channel` may reach now: a count, or a page of ids with the address for that channel.

    One set-based query selects them (consent, no objection, no restriction); only the page shown is decrypted,
    and each person on it is recorded as read in the audit log.
    """
    if not count_only:
        return audience_page(ctx, channel, limit, offset).members
    ctx.actor.require(Permission.AUDIENCE_READ)
    check_consent_target(ctx.policy, MARKETING, channel)
    with ctx.uow() as uow:
        total = uow.consents.audience_count(MARKETING, channel)
        ctx.record(uow, AuditEvent("marketing.audience", None, MARKETING, {"channel": channel, "count": total}))
        uow.commit()
    return total


@dataclass(frozen=True)
class AudiencePage:
    address_field: str  # the field the channel reaches people by (phone, email)
    members: list[AudienceMember]
    more: bool  # someone follows the page


def audience_page(ctx: Context, channel: str, limit: int = 50, offset: int = 0) -> AudiencePage:
    """A page of the audience, and whether more follow: one id past the page is selected, never decrypted or
    recorded as read (only the people shown are read, Art. 5(1)(c))."""
    ctx.actor.require(Permission.AUDIENCE_READ)
    check_consent_target(ctx.policy, MARKETING, channel)
    if not 1 <= limit <= MAX_PAGE:
        raise invalid("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise invalid("offset", "must not be negative")
    field = channel_field(ctx.policy, MARKETING, channel)
    with ctx.uow() as uow:
        selected = uow.consents.audience_page(MARKETING, channel, limit + 1, offset)
        ids = selected[:limit]
        addresses = uow.consents.read_field(ids, field)
        details = {"via": "marketing.audience", "channel": channel, "fields": [field]}
        ctx.record(uow, *(AuditEvent("subject.read", sid, MARKETING, details) for sid in ids))
        uow.commit()
    return AudiencePage(field, [AudienceMember(sid, addresses.get(sid)) for sid in ids], len(selected) > limit)
