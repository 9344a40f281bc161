"""Answers to requests from the web: a single-use link sent to where the request came from, never an attachment."""

from __future__ import annotations

import secrets
from zoneinfo import ZoneInfo

from personvern.domain.audit import AuditEvent
from personvern.domain.otp import AnswerLink, Via
from personvern.domain.requests import Channel, Request, Verification
from personvern.services.context import Context, new_id
from personvern.services.ports import UnitOfWork
from personvern.services.public_messages import TYPE_NAMES, day, send

ANSWER_PATHS = {"nb": "/personvern/svar/", "en": "/privacy/answer/"}


def web_contact(uow: UnitOfWork, request: Request) -> tuple[Via, str] | None:
    """Where a request from the web is answered: the number or address its code went to (read before an
    erasure forgets it)."""
    if request.channel is not Channel.WEB or request.verification_method not in (
        Verification.OTP_SMS,
        Verification.OTP_EMAIL,
    ):
        return None
    identity = uow.requests.identity(request.id) or {}
    if request.verification_method is Verification.OTP_SMS and identity.get("phone"):
        return Via.SMS, identity["phone"]
    if request.verification_method is Verification.OTP_EMAIL and identity.get("email"):
        return Via.EMAIL, identity["email"]
    return None


def offer_answer(ctx: Context, uow: UnitOfWork, request: Request, contact: tuple[Via, str]) -> AnswerLink:
    """Send the person a single-use link to the answer, inside the transaction that made it (never an
    attachment: the link asks for a fresh code, so a forwarded or intercepted message alone opens nothing)."""
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    link = AnswerLink(new_id(), request.id, now, ctx.policy.requests.answer_link.after(now), None, None, None)
    uow.answer_links.add(link, token)
    via, destination = contact
    lang = request.language if request.language in ANSWER_PATHS else "en"
    until = link.expires_at.astimezone(ZoneInfo(ctx.policy.controller.timezone)).date()
    send(
        ctx,
        uow,
        via,
        destination,
        lang,
        "answer",
        {
            "type": TYPE_NAMES[lang][request.type.value],
            "url": f"{ctx.public_url}{ANSWER_PATHS[lang]}{token}",
            "until": day(lang, until),
        },
        request.id,
    )
    ctx.record(
        uow,
        AuditEvent(
            "request.answer_link",
            request.subject_id,
            None,
            {"request": request.id, "link": link.id, "via": via.value, "expires": link.expires_at.isoformat()},
        ),
    )
    return link
