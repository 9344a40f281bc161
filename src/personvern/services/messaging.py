"""SMS use cases: send a service or marketing message by the policy's rules, record delivery reports, act on «STOPP»."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import MARKETING
from personvern.domain.errors import Forbidden, InvalidInput, NotFound, invalid
from personvern.domain.sms import (
    FINAL_STATUSES,
    OPT_OUT_LINE,
    STOP_WORD,
    DeliveryReport,
    Encoding,
    InboundSms,
    Message,
    MessageStatus,
    SmsLength,
    is_stop,
    measure,
    next_status,
    result_code,
    text_problems,
    with_opt_out,
)
from personvern.domain.values import BadValue, lookup_key, normalise
from personvern.policy.schema import FieldType
from personvern.services import consent, outbox, selfservice
from personvern.services.context import Context, new_id
from personvern.services.ports import Lookup, UnitOfWork
from personvern.services.register import require_subject

CHANNEL = "sms"
RECIPIENT = "linkmobility"  # the policy's name for the processor that relays SMS
PURPOSES = ("service", "marketing")


@dataclass(frozen=True)
class SmsDraft:
    """A message as it will go out (a marketing text with its opt-out line), and how long it is."""

    subject_id: str
    purpose: str
    text: str
    length: SmsLength

    @property
    def opt_out(self) -> bool:
        return self.purpose == "marketing"


@dataclass(frozen=True)
class QueuedSms:
    draft: SmsDraft
    message_id: str
    outbox_id: str


def compose(purpose: str, text: str, link: str | None = None) -> tuple[str, SmsLength]:
    """The text as sent and its encoding and segments, before any rule about the person is checked.

    A marketing text ends with the person's self-service `link` (or a stand-in of its length) on the line
    before the opt-out line, so that its length and segments are those of the message that goes.
    """
    if purpose not in PURPOSES:
        raise invalid("purpose", f"must be one of: {', '.join(PURPOSES)}")
    problems = text_problems(text)
    if problems:
        raise InvalidInput(problems)
    final = with_opt_out(text) if purpose == "marketing" else text
    if purpose == "marketing" and link is not None:
        final = _with_link(final, link)
    problems = text_problems(final)
    if problems:
        raise InvalidInput(problems)
    return final, measure(final)


def _with_link(final: str, link: str) -> str:
    """The link on a line of its own just above «Svar STOPP …», which stays the last line (markedsføringsloven § 15).

    The link is where the person sees and changes their consent per channel and objects (Art. 7(3), 21(3)).
    """
    head = final[: -len(OPT_OUT_LINE)]
    return f"{head}{link}\n{OPT_OUT_LINE}"


def _link(ctx: Context, subject_id: str | None, purpose: str, preview: bool) -> str | None:
    """The person's self-service link for a marketing text; a stand-in of its exact length in a preview."""
    if purpose != "marketing":
        return None
    if preview or subject_id is None:
        return selfservice.preview_link(ctx, subject_id)
    return selfservice.link_for(ctx, subject_id)


def _require_recipient(ctx: Context, purpose: str) -> None:
    recipient = ctx.policy.recipients.get(RECIPIENT)
    if recipient is None or purpose not in recipient.purposes or "phone" not in recipient.fields:
        # The privacy notice names who receives what, for which purpose (Art. 13(1)(e)); an SMS discloses
        # the number to LINK Mobility, so the policy must say so.
        raise Forbidden(f"the policy does not name {RECIPIENT} as a recipient of the phone number for {purpose}")


def _check(
    ctx: Context, uow: UnitOfWork, subject_id: str, purpose: str, text: str, preview: bool = False
) -> tuple[SmsDraft, str]:
    """Every rule a message must pass, each refusal naming its rule; returns the draft and the number to send to.

    `preview`: the person's link is a stand-in of its length (the link itself is made when the message goes).
    """
    ctx.actor.require(Permission.SMS_MARKETING if purpose == "marketing" else Permission.SMS_SEND)
    final, length = compose(purpose, text, _link(ctx, subject_id, purpose, preview))
    _require_recipient(ctx, purpose)
    subject = uow.subjects.get(subject_id)
    if subject is None:
        raise NotFound(f"no subject with id {subject_id} in the register")
    if subject.kind not in ctx.policy.purposes[purpose].kinds:
        raise Forbidden(f"the policy does not process {subject.kind} subjects for {purpose}")
    phone = subject.values.get("phone")
    if not phone:
        raise invalid("phone", f"subject {subject_id} has no mobile number")
    if consent.is_restricted(uow, subject_id):
        raise Forbidden(f"no SMS to subject {subject_id}: processing is restricted (Art. 18), only storage is allowed")
    if purpose == "service":
        today = ctx.clock.now().date()
        if not any(r.active_on(today) for r in uow.relationships.for_subject(subject_id)):
            raise Forbidden(
                f"a service SMS needs an active order or contract (Art. 6(1)(b)); subject {subject_id} has none "
                f"on {today.isoformat()}"
            )
    else:
        reason = consent.marketing_block_reason_for(uow, subject_id, CHANNEL, ctx.policy)
        if reason is not None:
            raise Forbidden(f"no marketing SMS to subject {subject_id}: {reason}")
    return SmsDraft(subject_id, purpose, final, length), phone


def draft_sms(ctx: Context, subject_id: str, purpose: str, text: str) -> SmsDraft:
    """Check a message without sending it: what `sms send` shows before it asks."""
    with ctx.uow() as uow:
        draft, _phone = _check(ctx, uow, subject_id, purpose, text, preview=True)
    return draft


def send_sms(ctx: Context, subject_id: str, purpose: str, text: str) -> QueuedSms:
    """Check the rules again and queue the message: log entry, outbox row and audit entry commit together."""
    with ctx.uow() as uow:
        draft, phone = _check(ctx, uow, subject_id, purpose, text)
        queued = _queue(ctx, uow, draft, phone)
        uow.commit()
    return queued


def _queue(ctx: Context, uow: UnitOfWork, draft: SmsDraft, phone: str) -> QueuedSms:
    """The message's log entry, outbox row and audit entry, inside the caller's transaction."""
    now = ctx.clock.now()
    message_id = new_id()
    public = {"message_id": message_id, "purpose": draft.purpose, "channel": CHANNEL}
    row = outbox.enqueue(ctx, uow, "sms", draft.subject_id, public, {"destination": phone, "text": draft.text})
    message = Message(
        id=message_id,
        subject_id=draft.subject_id,
        outbox_id=row.id,
        channel=CHANNEL,
        purpose=draft.purpose,
        created_at=now,
        segments=draft.length.segments,
        encoding=Encoding(draft.length.encoding),
        status=MessageStatus.PENDING,
        updated_at=now,
    )
    uow.messages.add(message, draft.text)
    details = {
        "message": message_id,
        "row": row.id,
        "recipient": RECIPIENT,
        "fields": ["phone"],
        "encoding": draft.length.encoding.value,
        "segments": draft.length.segments,
    }
    ctx.record(uow, AuditEvent("sms.send", draft.subject_id, draft.purpose, details))
    return QueuedSms(draft, message_id, row.id)


# ---------------------------------------------------------------- one marketing SMS to the whole audience


@dataclass(frozen=True)
class AudiencePreview:
    """What a marketing SMS to the audience would be: the text as sent, its length, and how many it reaches."""

    text: str
    length: SmsLength
    recipients: int

    @property
    def segments(self) -> int:
        """SMS billed in all: each recipient's message takes `length.segments`."""
        return self.recipients * self.length.segments


@dataclass(frozen=True)
class AudienceSent:
    queued: int  # messages queued, one per person the rules still allowed when their turn came
    skipped: int  # in the audience when it was selected, no longer allowed (consent withdrawn, restricted, …)
    segments: int  # SMS billed in all, as the queued messages were measured


AUDIENCE_PAGE = 5_000  # ids selected per query
AUDIENCE_BATCH = 500  # messages queued per transaction


def _audience_rules(ctx: Context, text: str) -> tuple[str, SmsLength]:
    # Both: the audience is who may be reached (reading it), and each message is marketing (sending it).
    ctx.actor.require(Permission.SMS_MARKETING)
    ctx.actor.require(Permission.AUDIENCE_READ)
    composed = compose("marketing", text, _link(ctx, None, "marketing", preview=True))
    _require_recipient(ctx, "marketing")
    return composed


def preview_audience(ctx: Context, text: str) -> AudiencePreview:
    """Measure a marketing text and count whom it would reach now; nothing is sent, no one is read."""
    final, length = _audience_rules(ctx, text)
    total = consent.marketing_audience(ctx, CHANNEL, count_only=True)
    assert isinstance(total, int)
    return AudiencePreview(final, length, total)


def send_to_audience(ctx: Context, text: str) -> AudienceSent:
    """Queue one marketing SMS to each person SMS marketing may reach now (consent in force, no objection,
    not restricted: Art. 6(1)(a), 21(3), 18), each checked again by the rules of `send_sms` as it is queued.

    The audience is selected first (ids only, nothing decrypted); the messages are then queued in batches,
    one transaction each, so a person whose consent is withdrawn meanwhile is skipped, not sent to.
    """
    _audience_rules(ctx, text)
    ids: list[str] = []
    with ctx.uow() as uow:
        while page := uow.consents.audience_page(MARKETING, CHANNEL, AUDIENCE_PAGE, len(ids)):
            ids += page
            if len(page) < AUDIENCE_PAGE:
                break
    queued = skipped = segments = 0
    for start in range(0, len(ids), AUDIENCE_BATCH):
        with ctx.uow() as uow:
            for subject_id in ids[start : start + AUDIENCE_BATCH]:
                try:
                    draft, phone = _check(ctx, uow, subject_id, "marketing", text)
                except (Forbidden, NotFound, InvalidInput):
                    skipped += 1
                    continue
                _queue(ctx, uow, draft, phone)
                queued += 1
                segments += draft.length.segments
            uow.commit()
    with ctx.uow() as uow:
        details = {"channel": CHANNEL, "queued": queued, "skipped": skipped, "segments": segments}
        ctx.record(uow, AuditEvent("sms.audience", None, MARKETING, details))
        uow.commit()
    return AudienceSent(queued, skipped, segments)


class ReportResult(StrEnum):
    """What one delivery report did to the message log."""

    RECORDED = "recorded"  # the message's status moved on
    REPEATED = "repeated"  # the message had this status and code already: nothing to change
    LATE = "late"  # the message already had a final status, which a report never changes
    UNKNOWN = "unknown"  # no message of this register was sent with the refId (e.g. its person was erased)


@dataclass(frozen=True)
class ReportOutcome:
    ref_id: str
    message_id: str | None  # None when the refId is unknown
    result_code: int
    meaning: str
    status: MessageStatus | None  # the message's status after the report; None when the refId is unknown
    result: ReportResult

    @property
    def changed(self) -> bool:
        return self.result is ReportResult.RECORDED


def record_reports(ctx: Context, reports: list[DeliveryReport]) -> list[ReportOutcome]:
    """Apply LINK Mobility delivery reports to the message log, each on its own, in one transaction.

    A refId that names no message is answered as unknown and changes nothing: an erased person's messages
    are gone with them (Art. 17), and a late report about one must not hold up the reports beside it.
    """
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    now = ctx.clock.now()
    outcomes = []
    with ctx.uow() as uow:
        for report in reports:
            code = result_code(report.result_code)
            message = uow.messages.for_outbox(report.ref_id)
            if message is None:
                outcomes.append(ReportOutcome(report.ref_id, None, code.code, code.meaning, None, ReportResult.UNKNOWN))
                continue
            status = next_status(message.status, code.status)
            # A report that came late (after a final one) is recorded in the audit trail but changes nothing.
            if message.status in FINAL_STATUSES:
                result = ReportResult.LATE
            elif message.status is status and message.result_code == code.code:
                result = ReportResult.REPEATED
            else:
                result = ReportResult.RECORDED
                uow.messages.set_status(
                    message.id,
                    status,
                    now,
                    vendor_message_id=report.vendor_id,
                    result_code=code.code,
                    status_text=code.meaning,
                )
            details = {"message": message.id, "result_code": code.code, "status": status.value}
            ctx.record(uow, AuditEvent("sms.report", message.subject_id, message.purpose, details))
            outcomes.append(ReportOutcome(report.ref_id, message.id, code.code, code.meaning, status, result))
        uow.commit()
    return outcomes


@dataclass(frozen=True)
class MessageListing:
    total: int  # every message the filters match; `messages` is the page asked for
    messages: list[Message]


MAX_LISTING = 1000


def list_messages(
    ctx: Context,
    subject_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> MessageListing:
    """The message log, newest first: who (by id), why, when, how long and how far each message got.

    Never a phone number or a text: what a message said is the person's data, kept sealed only while the
    policy's `[messages] keep_text` allows, and read by nobody through a listing (Art. 5(1)(c)). The ids and
    statuses shown are still about people (pseudonymous data is personal data, recital 26), so each person
    on the page gets an audit entry, as `subject list` gives one, and can learn who looked (Art. 15).
    """
    ctx.actor.require(Permission.OUTBOX_READ)
    purpose = ctx.check_purpose(None)
    if not 1 <= limit <= MAX_LISTING:
        raise invalid("limit", f"must be between 1 and {MAX_LISTING}")
    if offset < 0:
        raise invalid("offset", "must not be negative")
    wanted: MessageStatus | None = None
    if status is not None:
        try:
            wanted = MessageStatus(status)
        except ValueError:
            raise invalid("status", f"must be one of: {', '.join(s.value for s in MessageStatus)}") from None
    with ctx.uow() as uow:
        if subject_id is not None:
            require_subject(uow, subject_id)
        total = uow.messages.count(subject_id, wanted, since)
        page = uow.messages.listing(subject_id, wanted, since, limit, offset)
        shown: dict[str, int] = {}
        for m in page:
            if m.subject_id is not None:
                shown[m.subject_id] = shown.get(m.subject_id, 0) + 1
        if shown:
            ctx.record(
                uow, *(AuditEvent("sms.list", sid, purpose, {"messages": n}) for sid, n in sorted(shown.items()))
            )
            uow.commit()
    return MessageListing(total, page)


@dataclass(frozen=True)
class InboundOutcome:
    """What an inbound message was: a known keyword or not. Whether the number is in the register is not said."""

    keyword: str | None


def handle_inbound(ctx: Context, message: InboundSms) -> InboundOutcome:
    """«STOPP» from a subject's number withdraws their SMS marketing consent (Art. 7(3): as easy as giving it).

    A number that is not in the register changes nothing, and the answer is the same either way, so the
    callback cannot be used to learn who is a customer.
    """
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    if not is_stop(message.text):
        return InboundOutcome(None)
    source = message.source
    if source.isdigit() and len(source) > 8:
        source = "+" + source  # LINK sends MSISDNs with the country code, sometimes without the plus
    try:
        phone = normalise(FieldType.PHONE, source, ctx.policy.default_region)
    except BadValue:
        return InboundOutcome(STOP_WORD)
    with ctx.uow() as uow:
        holders = uow.subjects.find(Lookup("phone", lookup_key(FieldType.PHONE, phone)))
    for subject_id in holders:
        consent.withdraw_by_reply(ctx, subject_id, CHANNEL)
    return InboundOutcome(STOP_WORD)


def forget_old_texts(ctx: Context) -> int:
    """Drop the text of messages older than the policy keeps it; who, when and why stay (Art. 5(1)(c), (e)).

    Run by the worker on every pass, so a text never outlives its period by more than one pass.
    """
    ctx.actor.require(Permission.OUTBOX_MANAGE)
    rule = ctx.policy.messages
    if rule is None:
        return 0
    now = ctx.clock.now()
    cutoff = rule.keep_text.before(now)
    with ctx.uow() as uow:
        dropped = uow.messages.drop_texts_before(cutoff)
        if dropped:
            ctx.record(
                uow, AuditEvent("messages.forget_texts", None, None, {"count": dropped, "before": cutoff.isoformat()})
            )
        uow.commit()
    return dropped
