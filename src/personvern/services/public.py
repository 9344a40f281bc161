"""The public page's requests: a one-time code proves the visitor holds the number or address they typed, and
the answer goes back there by a single-use link (GDPR Art. 12(2): facilitate the exercise of the rights).

Customers and strangers meet the same steps, answers and messages: asking for a code looks nobody up, and
confirming it opens a request whether or not the identity matches anyone; a stranger's request is answered
"we hold nothing about you". The page never tells who is a customer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from personvern.domain import otp
from personvern.domain.access import SUBJECT, Actor, Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.errors import Conflict, NotFound, Throttled, invalid
from personvern.domain.otp import AnswerLink, Challenge, Limit, PendingRequest, Via
from personvern.domain.requests import Channel, RequestType, Verification
from personvern.domain.values import BadValue, lookup_key, normalise
from personvern.policy.schema import FieldType
from personvern.services import answer_links, rights, selfservice
from personvern.services.context import Context, new_id
from personvern.services.ports import Lookup, UnitOfWork
from personvern.services.public_messages import TYPE_NAMES, day, send

# Who acts on the public side: the person themself, once the code shows they hold the number or address.
VISITOR = Actor("web:visitor", SUBJECT)


def visitor(ctx: Context) -> Context:
    """The context the public side acts in: the visitor, not whoever started the server."""
    return replace(ctx, actor=VISITOR)


# ---------------------------------------------------------------- rate limits


def _limited(ctx: Context, hits: list[tuple[Limit, str]]) -> None:
    """Count each hit in its own committed transaction (a refusal counts too), then refuse if any is over."""
    now = ctx.clock.now()
    worst: Limit | None = None
    with ctx.uow() as uow:
        for limit, value in hits:
            key = f"{limit.name}:{_pseudonym(value)}"
            if uow.rate_limits.hit(key, limit.window_start(now)) > limit.hits:
                worst = limit if worst is None or limit.retry_after(now) > worst.retry_after(now) else worst
        uow.commit()
    if worst is not None:
        # The same words whichever limit it was: the answer tells nothing about who else asked.
        raise Throttled(
            "too many requests from here or for this number or address; try again later", worst.retry_after(now)
        )


def _limited_sending(ctx: Context, client: str, identity: str) -> None:
    """The limits on sending a message to a visitor: in all, from this client address, to this identity."""
    _limited(ctx, [(otp.SEND_OVERALL, "all"), (otp.SEND_PER_CLIENT, client), (otp.SEND_PER_IDENTITY, identity)])


def _pseudonym(value: str) -> str:
    """A rate limit's key without the address or number in it (kept an hour; the window is all it needs)."""
    return hashlib.sha256(f"personvern-rate\x00{value}".encode()).hexdigest()[:40]


# ---------------------------------------------------------------- asking for a request


@dataclass(frozen=True)
class Asked:
    """A code is on its way: confirm it at `pending_id` before `expires_at`."""

    pending_id: str
    via: Via
    expires_at: datetime


def _contact(ctx: Context, email: str | None, phone: str | None) -> tuple[Via, str]:
    given = [(n, v) for n, v in (("email", email), ("phone", phone)) if v and v.strip()]
    if len(given) != 1:
        raise invalid("email", "give either an e-mail address or a mobile number, one of them")
    name, value = given[0]
    try:
        if name == "email":
            return Via.EMAIL, normalise(FieldType.EMAIL, value)
        return Via.SMS, normalise(FieldType.PHONE, value, ctx.policy.default_region)
    except BadValue as exc:
        raise invalid(name, str(exc)) from None


def _corrections(ctx: Context, changes: Mapping[str, str] | None) -> dict[str, str]:
    """A rectification's new values, each checked by the register's rules for its field (Art. 16)."""
    checked: dict[str, str] = {}
    for name, value in (changes or {}).items():
        spec = ctx.policy.fields.get(name)
        if spec is None:
            raise invalid(f"set.{name}", f"is not a field the register holds; fields: {', '.join(ctx.policy.fields)}")
        try:
            checked[name] = normalise(spec.type, value, ctx.policy.default_region)
        except BadValue as exc:
            raise invalid(f"set.{name}", str(exc)) from None
    return checked


def ask(
    ctx: Context,
    type: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    client: str = "unknown",
    changes: Mapping[str, str] | None = None,
    purpose: str | None = None,
) -> Asked:
    """Send a one-time code to the number or address typed, and keep the request waiting for it.

    Nobody is looked up here: a customer and a stranger cause the same work, the same answer and the same
    message, so neither the answer nor its timing tells whether someone is in the register.
    """
    ctx = visitor(ctx)
    kind, lang, purpose, details = rights.checked_input(ctx, type, language, purpose, changes, None)
    if details is not None:
        details = {**details, "set": _corrections(ctx, details["set"])}
    via, destination = _contact(ctx, email, phone)
    _limited_sending(ctx, client, f"{via.value}:{destination}")
    now = ctx.clock.now()
    code = otp.new_code()
    pending = PendingRequest(
        id=new_id(),
        type=kind.value,
        language=lang,
        via=via.value,
        created_at=now,
        challenge=Challenge(now + otp.VALID, 0, False),
    )
    stored: dict[str, Any] | None = None
    if details is not None or purpose is not None:
        stored = {"details": details, "purpose": purpose}
    with ctx.uow() as uow:
        uow.public_requests.add(pending, {via.value: destination}, stored, code)
        send(ctx, uow, via, destination, lang, "code", {"code": code}, pending.id)
        ctx.record(
            uow,
            AuditEvent("public.request.ask", None, None, {"pending": pending.id, "type": kind.value, "via": via.value}),
        )
        uow.commit()
    return Asked(pending.id, via, pending.challenge.expires_at)


# ---------------------------------------------------------------- a consent link on request


def send_consent_link(
    ctx: Context,
    *,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    client: str = "unknown",
) -> Via:
    """Send the person's own consent link to the number or address typed (Art. 7(3): withdrawing as easy as
    giving). Only the holder of that number or address reads it; anyone else typing it learns nothing, and a
    number or address we do not hold gets a message saying so, so the page answers the same either way."""
    ctx = visitor(ctx)
    lang = language if language in ctx.policy.languages else ctx.policy.languages[0]
    via, destination = _contact(ctx, email, phone)
    _limited_sending(ctx, client, f"{via.value}:{destination}")
    name = "email" if via is Via.EMAIL else "phone"
    with ctx.uow() as uow:
        found = uow.subjects.find(Lookup(name, lookup_key(ctx.policy.fields[name].type, destination)))
        link = selfservice.link_for(ctx, found[0], lang) if found else None
        if link is not None:
            send(ctx, uow, via, destination, lang, "consent_link", {"url": link}, "consent")
        else:
            send(ctx, uow, via, destination, lang, "consent_none", {}, "consent")
        ctx.record(uow, AuditEvent("public.consent_link", found[0] if found else None, "marketing", {"via": via.value}))
        uow.commit()
    return via


# ---------------------------------------------------------------- confirming it


@dataclass(frozen=True)
class Confirmed:
    """The request is open: its receipt, the same for a customer and a stranger."""

    request_id: str
    type: str
    received_on: date
    due_on: date
    language: str


def _wrong_code(challenge: Challenge, now: datetime) -> None:
    state = challenge.state(now)
    if state == "used":
        raise Conflict("this code is used up: ask for a new one on the privacy page")
    if state == "expired":
        raise Conflict("the code has expired: ask for a new one on the privacy page")


def confirm(ctx: Context, pending_id: str, code: str, client: str = "unknown") -> Confirmed:
    """Open the request once the right code is typed back: channel web, verified by the code, received now
    (the deadline counts from receipt, Art. 12(3)); a receipt with the due date goes to the visitor."""
    ctx = visitor(ctx)
    ctx.actor.require(Permission.REQUEST_OPEN)
    typed = otp.check_code_shape(code)
    _limited(ctx, [(otp.CONFIRM_PER_CLIENT, client)])
    now = ctx.clock.now()
    with ctx.uow() as uow:
        pending = uow.public_requests.get(pending_id, lock=True)
        if pending is None:
            raise NotFound("there is no such request waiting for a code; ask again on the privacy page")
        _wrong_code(pending.challenge, now)
        if not uow.public_requests.matches(pending_id, typed):
            uow.public_requests.failed(pending_id)
            left = pending.challenge.tries_left() - 1
            if left <= 0:
                uow.public_requests.used_up(pending_id)
            uow.commit()
            if left <= 0:
                raise Conflict("that was the last try: ask for a new code on the privacy page")
            raise invalid("code", f"the code does not match; {left} {'try' if left == 1 else 'tries'} left")
        identity = uow.public_requests.identity(pending_id) or {}
        stored = uow.public_requests.details(pending_id) or {}
        via = Via(pending.via)
        name = "email" if via is Via.EMAIL else "phone"
        destination = identity.get(via.value, "")
        opened = rights.register_request(
            ctx,
            uow,
            RequestType(pending.type),
            Channel.WEB,
            pending.language,
            now,
            (name, destination),
            stored.get("purpose"),
            stored.get("details"),
            Verification(via.verification),
        )
        request = opened.request
        uow.public_requests.confirmed(pending_id, now, request.id)
        lang = request.language
        send(
            ctx,
            uow,
            via,
            destination,
            lang,
            "receipt",
            {
                "type": TYPE_NAMES[lang if lang in TYPE_NAMES else "en"][request.type.value],
                "received": day(lang, request.received_date),
                "due": day(lang, request.due_on),
                "ref": request.id[-8:],
            },
            request.id,
        )
        uow.commit()
    return Confirmed(request.id, request.type.value, request.received_date, request.due_on, request.language)


# ---------------------------------------------------------------- the answer, by a single-use link


@dataclass(frozen=True)
class LinkView:
    """What the answer page shows: the link's state, and whether a fresh code is waiting to be typed."""

    state: str  # open | fetched | expired
    language: str
    type: str
    expires_at: datetime
    code_sent: bool


def _link(uow: UnitOfWork, token: str, lock: bool = False) -> AnswerLink:
    link = uow.answer_links.by_token(token, lock=lock)
    if link is None:
        raise NotFound("this link does not work: it may be mistyped; the message we sent has the whole link")
    return link


def answer_link(ctx: Context, token: str) -> LinkView:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        link = _link(uow, token)
        request = uow.requests.get(link.request_id)
        if request is None:
            raise NotFound("this link does not work")
    sent = link.challenge is not None and link.challenge.state(now) == "open"
    return LinkView(link.state(now), request.language, request.type.value, link.expires_at, sent)


def _open_link(link: AnswerLink, now: datetime) -> None:
    state = link.state(now)
    if state == "fetched":
        raise Conflict("the answer was already fetched with this link; it works once. Contact us for a new one")
    if state == "expired":
        raise Conflict("this link has expired and the answer was deleted. Contact us for a new one")


def send_answer_code(ctx: Context, token: str, client: str = "unknown") -> Via:
    """A fresh one-time code to the number or address the request came from, before the answer is served."""
    ctx = visitor(ctx)
    _limited_sending(ctx, client, f"link:{token}")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        link = _link(uow, token, lock=True)
        _open_link(link, now)
        request = uow.requests.get(link.request_id)
        contact = None if request is None else answer_links.web_contact(uow, request)
        if request is None or contact is None:
            # Erased since (the identity is forgotten with the person): the answer is all that is left, and
            # nothing can prove who asks for it now.
            raise Conflict("we can no longer send a code for this answer. Contact us for a new one")
        code = otp.new_code()
        uow.answer_links.new_code(link.id, code, now + otp.VALID)
        send(ctx, uow, contact[0], contact[1], request.language, "fetch_code", {"code": code}, request.id)
        uow.commit()
    return contact[0]


@dataclass(frozen=True)
class Fetched:
    request_id: str
    files: dict[str, bytes]


def fetch_answer(ctx: Context, token: str, code: str, client: str = "unknown") -> Fetched:
    """The answer's files, once, for the right fresh code; then the link closes and the stored answer goes."""
    ctx = visitor(ctx)
    typed = otp.check_code_shape(code)
    _limited(ctx, [(otp.CONFIRM_PER_CLIENT, client)])
    now = ctx.clock.now()
    with ctx.uow() as uow:
        link = _link(uow, token, lock=True)
        _open_link(link, now)
        if link.challenge is None:
            raise Conflict("ask for a code first: it goes to the number or address the request came from")
        _wrong_code(link.challenge, now)
        if not uow.answer_links.matches(link.id, typed):
            uow.answer_links.failed(link.id)
            left = link.challenge.tries_left() - 1
            uow.commit()
            if left <= 0:
                raise Conflict("that was the last try: ask for a new code")
            raise invalid("code", f"the code does not match; {left} {'try' if left == 1 else 'tries'} left")
        files = uow.requests.answer(link.request_id)
        request = uow.requests.get(link.request_id)
        if files is None or request is None:
            uow.answer_links.close(link.id, now)
            uow.commit()
            raise Conflict("the answer is no longer kept. Contact us for a new one")
        uow.answer_links.fetched(link.id, now)
        # Fetched once: the copy of the person's data need not wait out `keep_answer` (Art. 5(1)(e)); the
        # outcome keeps each file's sha256, so what was answered stays provable.
        uow.requests.forget_answer(link.request_id)
        ctx.record(
            uow,
            AuditEvent("request.answer_fetched", request.subject_id, None, {"request": request.id, "link": link.id}),
        )
        uow.commit()
    return Fetched(request.id, files)


# ---------------------------------------------------------------- upkeep


@dataclass(frozen=True)
class Upkeep:
    codes_expired: int
    links_closed: int
    limits_forgotten: int


def upkeep(ctx: Context) -> Upkeep:
    """Daily: codes never confirmed go with their sealed identity; links past their time close and their
    answers are deleted (the policy's `answer_link`); rate-limit windows past are forgotten."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        expired = uow.public_requests.expire(now)
        ended = uow.answer_links.ended(now)
        for link in ended:
            uow.answer_links.close(link.id, now)
            uow.requests.forget_answer(link.request_id)
        forgotten = uow.rate_limits.forget(now - timedelta(days=1))
        if ended:
            ctx.record(uow, AuditEvent("request.answer_links_closed", None, None, {"links": len(ended)}))
        uow.commit()
    return Upkeep(expired, len(ended), forgotten)


def links_for(ctx: Context, request_id: str) -> list[AnswerLink]:
    """The answer links of a request, for the console (whether and when it was fetched)."""
    with ctx.uow() as uow:
        return uow.answer_links.for_request(request_id)
