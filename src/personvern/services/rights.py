"""Data subject requests end to end: open, verify, extend, fulfil or reject, within the legal deadline.

The CEO handles every request (the seed policy). Every step is in the audit chain. An identity that matches
nobody still gets a request and an answer, so that neither the register nor the answer reveals who is a
customer (Art. 12(2), 15(1)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from personvern.domain import requests as rq
from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.confirmations import Confirmation
from personvern.domain.consent import (
    ConsentStatus,
    EffectiveConsent,
    check_objection_purpose,
    effective_consents,
)
from personvern.domain.erasure import ErasureCause, ErasureReceipt
from personvern.domain.errors import Conflict, NotFound, invalid
from personvern.domain.otp import AnswerLink
from personvern.domain.requests import Channel, Request, RequestState, RequestType, Verification
from personvern.domain.retention import Facts, counted_from, decide, local_day
from personvern.domain.sealed import ANSWER_KEPT
from personvern.domain.subjects import Relationship, RelationshipType, Subject
from personvern.domain.values import BadValue, lookup_key, normalise
from personvern.policy.schema import FieldType, LegalBasis, RetentionStart
from personvern.reports.package import (
    Basis,
    ConsentLine,
    KeptBecause,
    Letter,
    Received,
    data_json,
    render_letter,
    values_csv,
)
from personvern.services import answer_links, confirmations, processors, retention
from personvern.services.consent import set_objection, set_restriction
from personvern.services.context import Context, new_id
from personvern.services.erasure import erase_many, holds
from personvern.services.ports import Lookup, UnitOfWork
from personvern.services.register import apply_changes, require_lookup

MAX_REASON = 1000
# The services speak of fields; each adapter says these with its own words (cli/words.py: the options).
ONE_IDENTITY = "give exactly one of: an email, a phone number or a subject id"
NEEDS_CORRECTIONS = "a rectification request needs the corrections: values to set or fields to remove"


def _choice(enum: type[Any], name: str, value: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise invalid(name, f"unknown {name} {value!r}; allowed: {allowed}") from None


def _text(name: str, value: str | None, required: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise invalid(name, required)
    if len(cleaned) > MAX_REASON:
        raise invalid(name, f"must be at most {MAX_REASON} characters (got {len(cleaned)})")
    return cleaned


def _today(ctx: Context) -> date:
    return rq.received_on(ctx.clock.now(), ctx.policy.controller.timezone)


# ---------------------------------------------------------------- opening a request


@dataclass(frozen=True)
class Opened:
    request: Request
    matched: bool  # whether the identity matched someone (for the CEO; the person is told only after verifying)
    archived: bool


def _identity(ctx: Context, email: str | None, phone: str | None, subject_id: str | None) -> tuple[str, str]:
    given = [(n, v) for n, v in (("email", email), ("phone", phone), ("subject", subject_id)) if v]
    if len(given) != 1:
        raise invalid("identity", ONE_IDENTITY)
    name, value = given[0]
    if name == "subject":
        return name, value.strip()
    require_lookup(ctx, name)  # only the CEO handles requests today; the rule holds whoever may one day
    field_type = FieldType.EMAIL if name == "email" else FieldType.PHONE
    try:
        return name, normalise(field_type, value, ctx.policy.default_region)
    except BadValue as exc:
        raise invalid(name, str(exc)) from None


def _match(ctx: Context, uow: UnitOfWork, name: str, value: str) -> tuple[str | None, bool]:
    """The subject the identity points at, in the live register first, then in the archive."""
    if name == "subject":
        if uow.subjects.exists(value):
            return value, False
        archived = uow.archive.for_subject(value)
        return (value, True) if archived else (None, False)
    lookup = Lookup(name, lookup_key(ctx.policy.fields[name].type, value))
    live = uow.subjects.find(lookup)
    if live:
        return live[0], False
    archived_records = uow.archive.find(lookup)
    return (archived_records[0].subject_id, True) if archived_records else (None, False)


def _rectification(ctx: Context, changes: Mapping[str, str], unset: list[str]) -> dict[str, Any] | None:
    if not changes and not unset:
        raise invalid("set", NEEDS_CORRECTIONS)
    for name in [*changes, *unset]:
        if name not in ctx.policy.fields:
            raise invalid(name, f"is not a field the policy declares; fields: {', '.join(ctx.policy.fields)}")
    return {"set": dict(changes), "unset": list(unset)}


def open_request(
    ctx: Context,
    type: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    subject_id: str | None = None,
    channel: str = "email",
    received_at: datetime | None = None,
    language: str | None = None,
    purpose: str | None = None,
    changes: Mapping[str, str] | None = None,
    unset: list[str] | None = None,
) -> Opened:
    """Register a request the moment it arrives: the deadline counts from receipt (Art. 12(3))."""
    ctx.actor.require(Permission.REQUEST_OPEN)
    how: Channel = _choice(Channel, "channel", channel)
    kind, lang, purpose, details = checked_input(ctx, type, language, purpose, changes, unset)
    now = ctx.clock.now()
    at = received_at or now
    if at > now:
        raise invalid("received", "must not be in the future")
    name, value = _identity(ctx, email, phone, subject_id)
    with ctx.uow() as uow:
        opened = register_request(ctx, uow, kind, how, lang, at, (name, value), purpose, details)
        uow.commit()
    return opened


def checked_input(
    ctx: Context,
    type: str,
    language: str | None,
    purpose: str | None,
    changes: Mapping[str, str] | None,
    unset: list[str] | None,
) -> tuple[RequestType, str, str | None, dict[str, Any] | None]:
    """A request's type, language, purpose and corrections, checked before anything is stored."""
    kind: RequestType = _choice(RequestType, "type", type)
    lang = language or ctx.policy.languages[0]
    if lang not in ctx.policy.languages:
        raise invalid("language", f"the policy answers in {', '.join(ctx.policy.languages)}, not {lang!r}")
    if kind is RequestType.OBJECTION:
        purpose = purpose or "marketing"
        check_objection_purpose(ctx.policy, purpose)
    elif purpose is not None:
        raise invalid("purpose", "only an objection names a purpose")
    details = _rectification(ctx, changes or {}, unset or []) if kind is RequestType.RECTIFICATION else None
    if kind is not RequestType.RECTIFICATION and (changes or unset):
        raise invalid("set", "only a rectification request carries corrections")
    return kind, lang, purpose, details


def register_request(
    ctx: Context,
    uow: UnitOfWork,
    kind: RequestType,
    how: Channel,
    lang: str,
    at: datetime,
    identity: tuple[str, str],
    purpose: str | None,
    details: dict[str, Any] | None,
    verified: Verification | None = None,
) -> Opened:
    """The request in the register, inside the caller's transaction, from checked input: matched to the person
    the identity points at, audited, and (`verified`) with the identity already checked as it came in."""
    name, value = identity
    received = rq.received_on(at, ctx.policy.controller.timezone)
    found, archived = _match(ctx, uow, name, value)
    request = Request(
        id=new_id(),
        type=kind,
        state=RequestState.RECEIVED,
        subject_id=found,
        channel=how,
        language=lang,
        received_at=at,
        received_date=received,
        due_on=rq.answer_due(received),
        opened_by=ctx.actor.name,
        purpose=purpose,
    )
    if verified is not None:
        request = rq.verify(request, at, ctx.actor.name, verified)
    uow.requests.add(request, {name: value}, details)
    audit: dict[str, Any] = {
        "request": request.id,
        "type": kind.value,
        "channel": how.value,
        "due": request.due_on.isoformat(),
    }
    if details:
        audit["fields"] = sorted([*details["set"], *details["unset"]])
    if verified is not None:
        audit["verified"] = verified.value
    ctx.record(uow, AuditEvent("request.open", found, None, audit))
    _reschedule(ctx, uow, found)  # an open request keeps the data it concerns while it lasts
    return Opened(request, found is not None, archived)


def _reschedule(ctx: Context, uow: UnitOfWork, subject_id: str | None) -> None:
    """Recompute the retention schedule of a live subject whose requests changed (archived ones have none)."""
    if subject_id is not None and uow.subjects.exists(subject_id):
        retention.refresh(ctx, uow, [subject_id])


# ---------------------------------------------------------------- moving it along


def _load(uow: UnitOfWork, request_id: str, *, lock: bool = False) -> Request:
    """The request; `lock` (every step that moves it along): two handlers of one request take turns, the second
    seeing what the first did, so a request is never fulfilled twice.

    The person's row is locked before the request's, as every step on their requests does: an erasure changes
    all their requests (it forgets who asked) after its own, so an access request fulfilled meanwhile, holding
    its request and then reaching for the person, deadlocked with it (found by the soak, bench/soak.py).
    """
    if lock:
        peek = uow.requests.get(request_id)
        if peek is not None and peek.subject_id is not None:
            uow.subjects.lock([peek.subject_id])
    request = uow.requests.get(request_id, lock=lock)
    if request is None:
        raise NotFound(f"no request with id {request_id}")
    return request


def _step(
    ctx: Context,
    request_id: str,
    action: str,
    change: Callable[[Request], Request],
    details: dict[str, Any] | None = None,
) -> Request:
    ctx.actor.require(Permission.REQUEST_HANDLE)
    with ctx.uow() as uow:
        request = change(_load(uow, request_id, lock=True))
        uow.requests.save(request)
        ctx.record(uow, AuditEvent(action, request.subject_id, None, {"request": request.id, **(details or {})}))
        if not request.open:
            _reschedule(ctx, uow, request.subject_id)
        uow.commit()
    return request


def verify_request(ctx: Context, request_id: str, method: str) -> Request:
    """Record how the identity was checked (Art. 12(6)); nothing is disclosed or changed before this."""
    how: Verification = _choice(Verification, "method", method)
    if how in rq.ONLY_ON_THE_PAGE:
        raise invalid("method", "a one-time code is recorded by the privacy page itself, as the visitor types it")
    now = ctx.clock.now()
    return _step(
        ctx,
        request_id,
        "request.verify",
        lambda r: rq.verify(r, now, ctx.actor.name, how),
        {"method": how.value},
    )


def start_request(ctx: Context, request_id: str) -> Request:
    return _step(ctx, request_id, "request.start", rq.start)


def extend_request(ctx: Context, request_id: str, reason: str, months: int = rq.MAX_EXTENSION_MONTHS) -> Request:
    why = _text("reason", reason, "an extension needs the reason the person will be told (Art. 12(3))")
    now, today = ctx.clock.now(), _today(ctx)
    return _step(
        ctx,
        request_id,
        "request.extend",
        lambda r: rq.extend(r, now, today, why, months),
        {"months": months},
    )


def reject_request(ctx: Context, request_id: str, reason: str) -> Fulfilment:
    """Refuse a request and write the letter telling the person why and that they may complain (Art. 12(4))."""
    why = _text("reason", reason, "a rejection needs its reason, e.g. manifestly unfounded or excessive (Art. 12(5))")
    ctx.actor.require(Permission.REQUEST_HANDLE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        request = rq.reject(_load(uow, request_id, lock=True), now, ctx.actor.name, why)
        contact = answer_links.web_contact(uow, request)
        letter = replace(_letter(ctx, request), rejection=why)
        files = {"letter.html": render_letter(ctx.policy, letter).encode()}
        request = replace(request, outcome=_kept(uow, request, files, now))
        uow.requests.save(request)
        if contact is not None:
            answer_links.offer_answer(ctx, uow, request, contact)
        ctx.record(uow, AuditEvent("request.reject", request.subject_id, None, {"request": request.id}))
        _reschedule(ctx, uow, request.subject_id)
        uow.commit()
    return Fulfilment(request, files)


def _kept(uow: UnitOfWork, request: Request, files: dict[str, bytes], at: datetime) -> dict[str, Any]:
    """Keep the answer's files sealed to be fetched (`answer`), until `[requests] keep_answer` ends; the outcome
    records each file's sha256 for good, so what was answered stays provable once the files are gone."""
    uow.requests.keep_answer(request.id, files, at)
    digests = {name: hashlib.sha256(blob).hexdigest() for name, blob in sorted(files.items())}
    return {**request.outcome, "files": digests, ANSWER_KEPT: True}


def answer(ctx: Context, request_id: str) -> Fulfilment:
    """The answer as it was given (letter, and data.json/data.csv where due), while its files are kept."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    with ctx.uow() as uow:
        request = _load(uow, request_id)
        if request.open and not request.carried_out:  # one carried out has its answer, waiting to be complete
            raise Conflict(
                f"request {request.id} is {request.state.value}: its answer is made when it is fulfilled or rejected"
            )
        files = uow.requests.answer(request_id) if request.outcome.get(ANSWER_KEPT) else None
        if files is None:
            raise NotFound(
                f"the answer to request {request.id} is no longer kept ([requests] keep_answer = "
                f"{ctx.policy.requests.keep_answer.describe()} after the answer, or the person was erased); "
                "the sha256 of each of its files is in the request's outcome"
            )
        # Reading an answer is reading the person's data it holds.
        ctx.record(uow, AuditEvent("request.answer", request.subject_id, None, {"request": request.id}))
        uow.commit()
    return Fulfilment(request, files)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class RequestView:
    request: Request
    identity: dict[str, str] | None  # None once forgotten (after an erasure)
    details: dict[str, Any] | None
    today: date
    receipt: ErasureReceipt | None = None  # an erasure request's proof: which fields went, which are held
    # Each recipient's part once the request was carried out (Art. 17(2), 19): what it must do, how it confirms.
    recipients: tuple[confirmations.RecipientView, ...] = ()
    # A request from the web is answered by single-use links: when each was sent, fetched, or closed unfetched.
    answer_links: tuple[AnswerLink, ...] = ()


def list_requests(
    ctx: Context,
    everything: bool = False,
    due_before: date | None = None,
    limit: int = 200,
    after: tuple[date, datetime, str] | None = None,
) -> tuple[date, list[Request]]:
    """Open requests (or all) by due date, so the overdue ones come first; `after`: the key of the last one seen
    (due day, receipt, id), for the next page."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    if not 1 <= limit <= 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    states = list(RequestState) if everything else list(rq.OPEN_STATES)
    with ctx.uow() as uow:
        found = uow.requests.listing(states, due_before, limit, after)
    return _today(ctx), found


def show_request(ctx: Context, request_id: str) -> RequestView:
    ctx.actor.require(Permission.REQUEST_HANDLE)
    with ctx.uow() as uow:
        request = _load(uow, request_id)
        identity, details = uow.requests.identity(request_id), uow.requests.details(request_id)
        receipt_id = request.outcome.get("receipt")
        receipt = uow.receipts.get(receipt_id) if receipt_id else None
        recipients = tuple(confirmations.views(ctx, uow, request))
        links = tuple(uow.answer_links.for_request(request_id)) if request.channel is Channel.WEB else ()
        ctx.record(uow, AuditEvent("request.read", request.subject_id, None, {"request": request_id}))
        uow.commit()
    return RequestView(request, identity, details, _today(ctx), receipt, recipients, links)


# ---------------------------------------------------------------- fulfilling


@dataclass(frozen=True)
class Fulfilment:
    request: Request
    files: dict[str, bytes]  # name -> content: the letter, and the data files an access or portability answer has
    recipients: tuple[Confirmation, ...] = ()  # each recipient's part: what it must do, and how it will confirm


def _letter(ctx: Context, request: Request) -> Letter:
    """The answer's frame: what every letter says of the request, answered today in its language."""
    return Letter(
        type=request.type.value,
        language=request.language,
        request_id=request.id,
        received_on=request.received_date,
        answered_on=_today(ctx),
        held=request.subject_id is not None,
    )


def fulfil_request(ctx: Context, request_id: str) -> Fulfilment:
    """Carry the request out and write the answer, in one transaction: either all of it happens or none."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        request = _load(uow, request_id, lock=True)
        if not request.open:
            raise Conflict(f"request {request.id} is {request.state.value}; it cannot be fulfilled")
        rq.require_not_carried_out(request, "fulfilled again")
        rq.require_verified(request, "fulfilled")
        contact = answer_links.web_contact(uow, request)  # before an erasure forgets where it came from
        letter = _letter(ctx, request)
        files: dict[str, bytes] = {}
        outcome: dict[str, Any] = {"held": letter.held}
        told: list[Confirmation] = []
        if request.subject_id is not None:
            letter, files, outcome, told = _carry_out(ctx, uow, request, letter, files, outcome)
        names = ("letter.html", *files)
        files["letter.html"] = render_letter(ctx.policy, replace(letter, files=tuple(n for n in names[1:]))).encode()
        outcome = _kept(uow, replace(request, outcome=outcome), files, now)
        uow.confirmations.add(told)
        waiting = sorted({c.recipient for c in told if c.pending})
        if waiting:
            # Done here; answered once each recipient has confirmed (Art. 17(2), 19): the request stays in
            # progress and completes by itself with the last confirmation (services/confirmations.py).
            outcome["waiting_for"] = waiting
            done = rq.carry_out(request, now, ctx.actor.name, outcome)
        else:
            done = rq.complete(request, now, ctx.actor.name, outcome)
        uow.requests.save(done)
        if contact is not None:
            answer_links.offer_answer(ctx, uow, done, contact)  # a request from the web is answered there
        _reschedule(ctx, uow, request.subject_id)
        ctx.record(
            uow,
            AuditEvent(
                "request.fulfil",
                request.subject_id,
                None,
                {"request": request.id, "type": request.type.value, **outcome},
            ),
        )
        uow.commit()
    return Fulfilment(done, files, tuple(told))


def _carry_out(
    ctx: Context,
    uow: UnitOfWork,
    request: Request,
    letter: Letter,
    files: dict[str, bytes],
    outcome: dict[str, Any],
) -> tuple[Letter, dict[str, bytes], dict[str, Any], list[Confirmation]]:
    sid = request.subject_id
    assert sid is not None
    told: list[Confirmation] = []
    subject = uow.subjects.get(sid)
    archived = uow.archive.for_subject(sid)
    letter = replace(letter, archived=subject is None and archived is not None)
    kind = request.type
    if subject is None and archived is None and kind is not RequestType.ERASURE:
        # Erased by another request (or the sweep) since this one came: nothing is held to give or correct
        # (found by the soak, bench/soak.py: an access fulfilled just after an erasure failed an assertion).
        raise Conflict(f"subject {sid} was erased after this request came; nothing is held: reject it with that reason")
    if kind is RequestType.ACCESS:
        data, letter = access_package(ctx, uow, request, letter, subject)
        files["data.json"] = data_json(data)
    elif kind is RequestType.PORTABILITY:
        provided = _provided(ctx, subject) if subject else {}
        files["data.json"] = data_json({"subject": sid, "kind": letter.kind, "values": provided})
        files["data.csv"] = values_csv(provided)
        letter = replace(letter, values=provided)
        outcome["fields"] = sorted(provided)
    elif kind is RequestType.RECTIFICATION:
        if subject is None:
            raise Conflict(
                f"subject {sid} is in the archive, not the live register; an archived record is not corrected "
                "but erased on request: reject this request with that reason, or open an erasure request"
            )
        wanted = uow.requests.details(request.id) or {"set": {}, "unset": []}
        changed = apply_changes(ctx, uow, subject, wanted["set"], wanted["unset"], {}, {"request": request.id})
        fields = sorted([*changed.changed, *changed.removed])
        notices = changed.told
        letter = replace(letter, changed=tuple(fields), told=tuple((n.recipient, n.action) for n in notices))
        outcome.update({"fields": fields, "processors": {n.recipient: n.action for n in notices}})
        if fields:
            told = confirmations.for_rectification(ctx, request, notices, fields)
    elif kind is RequestType.ERASURE:
        if subject is not None:
            outcome["orders_ended"] = _end_orders(ctx, uow, sid)
        # Read once the orders are ended, as the erasure decides on them; the letter explains the same decision.
        facts = uow.retention.facts([sid])
        # Scheduled once, by fulfil_request after the request is closed, rather than here and again there.
        [receipt] = erase_many(
            ctx, uow, [sid], cause=ErasureCause.REQUEST, request_id=request.id, facts=facts, reschedule=False
        )
        d = receipt.details
        letter = replace(
            letter,
            archived=archived is not None,
            erased=tuple(d.get("fields_erased", [])),
            held_fields=tuple(d.get("fields_held", [])),
            held_until=receipt.held_until,
            held_basis=_hold_basis(ctx, sid, facts.get(sid), receipt.held_until, set(d.get("fields_held", []))),
            told=tuple(d.get("processors", {}).items()),
        )
        outcome.update({"receipt": receipt.id, "held_until": receipt.held_until})
        told = confirmations.for_erasure(ctx, request, receipt)
    elif kind is RequestType.RESTRICTION:
        _live(subject, sid, "restricted")
        before = {r.id for r in uow.outbox.for_subject(sid)}
        block = set_restriction(ctx, uow, sid, False, f"restriction request {request.id}")
        outcome["block"] = block.id
        queued = [r for r in uow.outbox.for_subject(sid) if r.id not in before]
        told = confirmations.for_block(ctx, uow, request, queued)
    elif kind is RequestType.OBJECTION:
        _live(subject, sid, "objected to")
        assert request.purpose is not None
        before = {r.id for r in uow.outbox.for_subject(sid)}
        block = set_objection(ctx, uow, sid, request.purpose, f"objection request {request.id}")
        letter = replace(letter, objection_purpose=request.purpose)
        outcome.update({"block": block.id, "purpose": request.purpose})
        queued = [r for r in uow.outbox.for_subject(sid) if r.id not in before]
        told = confirmations.for_block(ctx, uow, request, queued)
    return letter, files, outcome, told


def _basis(sid: str, found: tuple[Relationship, date | None] | None) -> Basis | None:
    if found is None:
        return None
    relationship, day = found
    return Basis(relationship.type.value, relationship.subject_id == sid, day)


def _hold_basis(ctx: Context, sid: str, facts: Facts | None, held_until: date | None, kept: set[str]) -> Basis | None:
    """The order or contract the latest hold of an erasure is counted from: the letter names it (Art. 17(3)(b))."""
    if facts is None or held_until is None:
        return None
    for hold in holds(ctx, facts):
        # The letter's sentence is about a period counted from a financial year's end (bokføringsloven § 13).
        counts = ctx.policy.retention[hold.rule].counts_from
        if hold.until == held_until and hold.fields & kept and counts is RetentionStart.FINANCIAL_YEAR_END:
            return _basis(sid, counted_from(ctx.policy, hold.rule, facts))
    return None


def _end_orders(ctx: Context, uow: UnitOfWork, sid: str) -> int:
    """An erasure request ends a one-time customer's open orders (the customer asks to end the relationship).

    A contract in force is different: the data is still needed to perform it (Art. 17(1)(a), 6(1)(b)), so
    the CEO must end the contract first or reject the request with that reason.
    """
    today = _today(ctx)
    active = [r for r in uow.relationships.for_subject(sid) if r.active_on(today)]
    contracts = [r for r in active if r.type is RelationshipType.CONTRACT]
    if contracts:
        until = contracts[0].end_date()
        raise Conflict(
            f"subject {sid} has a contract in force{f' until {until.isoformat()}' if until else ''}: the data is "
            f"still needed to perform it (Art. 17(1)(a)); end it first (`personvern relationship end {sid}`) "
            "or reject the request with that reason"
        )
    for order in active:
        uow.relationships.end(order.id, today)
    return len(active)


def _live(subject: Subject | None, sid: str, doing: str) -> None:
    if subject is None:
        raise Conflict(
            f"subject {sid} is in the archive, where nothing is processed but storage; it cannot be {doing}: "
            "reject this request with that reason, or open an erasure request"
        )


def _provided(ctx: Context, subject: Subject) -> dict[str, str]:
    """Art. 20(1): data the person provided, processed on consent or on a contract."""
    portable = {LegalBasis.CONSENT, LegalBasis.CONTRACT}
    return {
        name: value
        for name, value in subject.values.items()
        if any(ctx.policy.purposes[p].legal_basis in portable for p in ctx.policy.fields[name].purposes)
    }


def access_package(
    ctx: Context, uow: UnitOfWork, request: Request, letter: Letter, subject: Subject | None
) -> tuple[dict[str, Any], Letter]:
    """Everything that concerns one person (Art. 15), read by the subject's id: no query walks the register."""
    sid = request.subject_id
    assert sid is not None
    today = _today(ctx)
    held_requests = uow.requests.for_subject(sid)
    requests = [_request_json(r) for r in held_requests]
    if subject is None:
        record = uow.archive.for_subject(sid)
        assert record is not None
        values = uow.archive.values(record)
        data = {
            "subject": sid,
            "kind": record.kind,
            "where": "archive",
            "received_at": record.received_at,
            "archived_at": record.archived_at,
            "values": values,
            "requests": requests,
        }
        return data, replace(letter, kind=record.kind, values=values, source=None)
    # The retention facts hold the person's consent ledger and blocks already: read once, used twice.
    facts = uow.retention.facts([sid])[sid]
    facts = replace(facts, open_request=any(r.open and r.id != request.id for r in held_requests))
    relationships = uow.relationships.for_subject(sid)
    consents, blocks = list(facts.consents), list(facts.blocks)
    messages = uow.messages.for_subject(sid)
    transfers = processors.transfers(uow, sid)
    decision = decide(ctx.policy, facts, today)
    # What the letter and data.json say of consent is the state the rules decide, not the latest event.
    states = effective_consents(ctx.policy, consents, blocks)
    consented = sorted({s.purpose for s in states if s.in_force})
    present = set(subject.values)
    # A reason that keeps some fields keeps only those the person has; one that keeps none of theirs says nothing.
    kept = [
        (r, tuple(n for n in ctx.policy.fields if n in r.fields and n in present) if r.fields is not None else None)
        for r in decision.reasons
        if r.fields is None or r.fields & present
    ]
    purposes = [
        key
        for key, p in ctx.policy.purposes.items()
        if subject.kind in p.kinds and (p.legal_basis is not LegalBasis.CONSENT or key in consented)
    ]
    received_names = {t.recipient for t in transfers}
    may = [
        key
        for key, r in ctx.policy.recipients.items()
        if key not in received_names and set(r.purposes) & set(purposes) and set(r.fields) & set(subject.values)
    ]
    data = {
        "subject": sid,
        "kind": subject.kind,
        "where": "register",
        "source": subject.source,
        "received_at": subject.received_at,
        "values": subject.values,
        "relationships": [r.as_record() for r in relationships],
        "consent_events": [
            {
                "id": e.id,
                "purpose": e.purpose,
                "channel": e.channel,
                "action": e.action.value,
                "at": e.at,
                "method": e.method.value,
                "notice_sha256": e.notice_sha256,
                "proof": e.proof,  # where the proof of an imported consent lives (Art. 7(1))
            }
            for e in consents
        ],
        "consent_state": [_consent_json(s) for s in states],
        "objections_and_restrictions": [
            {"kind": b.kind.value, "purpose": b.purpose, "set_at": b.set_at, "lifted_at": b.lifted_at} for b in blocks
        ],
        "messages": [
            {
                "id": m.id,
                "channel": m.channel,
                "purpose": m.purpose,
                "sent_at": m.created_at,
                "status": m.status.value,
                "segments": m.segments,
            }
            for m in messages
        ],
        "requests": requests,
        "recipients": [
            {
                "recipient": t.recipient,
                "name": ctx.policy.recipients[t.recipient].name,
                "country": ctx.policy.recipients[t.recipient].country,
                "fields": list(t.fields),
                "first_at": t.first_at,
                "last_at": t.last_at,
                "delivered": t.delivered,
                "pending": t.pending,
            }
            for t in transfers
            if t.recipient in ctx.policy.recipients
        ],
        "retention": {
            "kept_until": decision.kept_until,
            "open_ended": decision.kept_until is None,
            "reasons": [
                {
                    "rule": r.rule,
                    "purpose": r.purpose,
                    "until": r.until,
                    "fields": list(fields) if fields is not None else None,
                }
                for r, fields in kept
            ],
            "then": decision.action.value,
        },
    }
    letter = replace(
        letter,
        kind=subject.kind,
        values=dict(subject.values),
        source=subject.source,
        purposes=tuple(purposes),
        consented=tuple(consented),
        consents=tuple(_consent_line(ctx, s) for s in states if s.status is not ConsentStatus.NEVER_GIVEN),
        relationships=len(relationships),
        messages=len(messages),
        received_by=tuple(
            Received(t.recipient, t.fields, t.first_at.date(), t.last_at.date(), t.pending)
            for t in transfers
            if t.recipient in ctx.policy.recipients
        ),
        may_receive=tuple(may),
        kept=tuple(
            KeptBecause(
                r.rule,
                r.until,
                fields,
                _basis(sid, counted_from(ctx.policy, r.rule, facts)) if r.rule in ctx.policy.retention else None,
            )
            for r, fields in kept
        ),
        kept_until=decision.kept_until,
        due=decision.due,
        after=decision.action.value,
    )
    return data, letter


def _consent_json(s: EffectiveConsent) -> dict[str, Any]:
    return {
        "purpose": s.purpose,
        "channel": s.channel,
        "state": s.status.value,
        "in_force": s.in_force,
        "since": s.since,
        "reason": s.reason,
    }


def _consent_line(ctx: Context, s: EffectiveConsent) -> ConsentLine:
    since = s.since if s.status is not ConsentStatus.IN_FORCE else None
    return ConsentLine(
        s.purpose,
        s.channel,
        s.status.value,
        local_day(s.event.at, ctx.policy) if s.event is not None else None,
        local_day(since, ctx.policy) if since is not None else None,
    )


def _request_json(r: Request) -> dict[str, Any]:
    return {
        "id": r.id,
        "type": r.type.value,
        "state": r.state.value,
        "received_at": r.received_at,
        "due_on": r.due_on,
        "closed_at": r.closed_at,
    }
