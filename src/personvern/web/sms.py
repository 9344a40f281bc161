"""SMS in the console: a message to one customer and a marketing message to the audience, each previewed first,
and the message log with each message's status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from personvern.domain.access import Permission
from personvern.domain.errors import Forbidden, InvalidInput, NotFound
from personvern.domain.sms import MessageStatus, result_code
from personvern.services import messaging, register
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, instant, invalid_field, problems_by_field, render, see_other
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE = 50
MAX_TEXT = 2000  # as the API bounds it; the precise bound is the rules' (at most 10 SMS)
STATUSES = {
    "pending": N_("waiting in the outbox"),
    "queued": N_("queued at LINK Mobility"),
    "sent": N_("sent to the operator"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "unknown": N_("unknown: the operator cannot say"),
    "cancelled": N_("cancelled: no longer allowed when it was due"),
}
ENCODINGS = {"GSM-7": N_("GSM-7 (the plain SMS alphabet)"), "UCS-2": N_("UCS-2 (other characters: fewer per SMS)")}
SAID = {"queued": N_("The SMS is queued; the outbox worker sends it. Its status shows here.")}


def _typed(data: FormData) -> dict[str, str]:
    # The text as typed, not trimmed: what is previewed is what is sent. A browser sends a line break as CR LF;
    # in the SMS it is one character.
    raw = data.get("text")
    typed = raw.replace("\r\n", "\n") if isinstance(raw, str) else ""
    return {"purpose": text(data, "purpose"), "text": typed}


def _bounded(v: Visit, given: dict[str, str]) -> None:
    if len(given["text"]) > MAX_TEXT:
        raise invalid_field("text", v._("must be at most %(n)s characters", n=MAX_TEXT))


# ---------------------------------------------------------------- to one customer


def _purposes(v: Visit) -> list[str]:
    offered = []
    if v.may(Permission.SMS_SEND):
        offered.append("service")
    if v.may(Permission.SMS_MARKETING):
        offered.append("marketing")
    return offered


def _subject_form(
    request: Request, v: Visit, subject_id: str, given: dict[str, str], *, status: int = 200, **values: Any
) -> Response:
    view = register.show_subject(v.ctx, subject_id=subject_id)
    return render(
        request,
        "sms_subject.html",
        v,
        status=status,
        view=view,
        purposes=_purposes(v),
        given=given,
        errors=values.pop("errors", {}),
        draft=values.pop("draft", None),
        encodings=ENCODINGS,
        policy=v.ctx.policy,
        **values,
    )


@router.get("/subjects/{subject_id}/sms")
def subject_form(request: Request, v: Seen, subject_id: str) -> Response:
    purposes = _purposes(v)
    if not purposes:
        v.ctx.actor.require(Permission.SMS_SEND)  # refused in words, as the service would
    return _subject_form(request, v, subject_id, {"purpose": purposes[0], "text": ""})


@router.post("/subjects/{subject_id}/sms")
def subject_send(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """Preview (the rules checked, nothing stored), then send: the same rules again, and the message queued."""
    given = _typed(data)
    step = text(data, "step")
    if step == "edit":
        return _subject_form(request, v, subject_id, given)
    needed = Permission.SMS_MARKETING if given["purpose"] == "marketing" else Permission.SMS_SEND
    try:
        _bounded(v, given)
        if step == "send":
            messaging.send_sms(v.ctx, subject_id, given["purpose"], given["text"])
            return see_other(f"{PREFIX}/sms?subject={subject_id}&said=queued")
        draft = messaging.draft_sms(v.ctx, subject_id, given["purpose"], given["text"])
    except InvalidInput as exc:
        return _subject_form(request, v, subject_id, given, status=422, errors=problems_by_field(exc))
    except Forbidden as exc:
        if not v.may(needed):
            raise  # the role may not: the refusal page says so
        # A rule about this person (no active order, restricted, no consent): said beside the form.
        return _subject_form(request, v, subject_id, given, status=403, errors={"sms": [str(exc)]})
    return _subject_form(request, v, subject_id, given, draft=draft)


# ---------------------------------------------------------------- marketing to the audience


def _marketing_form(request: Request, v: Visit, given: dict[str, str], *, status: int = 200, **values: Any) -> Response:
    return render(
        request,
        "sms_marketing.html",
        v,
        status=status,
        given=given,
        errors=values.pop("errors", {}),
        preview=values.pop("preview", None),
        encodings=ENCODINGS,
        sent=values.pop("sent", None),
        **values,
    )


def _require_marketing(v: Visit) -> None:
    """The page is offered to roles that may send marketing SMS and read the audience (services decide each use)."""
    v.ctx.actor.require(Permission.SMS_MARKETING)
    v.ctx.actor.require(Permission.AUDIENCE_READ)


@router.get("/sms/marketing")
def marketing_form(request: Request, v: Seen) -> Response:
    _require_marketing(v)
    sent = None
    if request.query_params.get("said") == "sent":
        counts = [request.query_params.get(k, "") for k in ("queued", "skipped")]
        if all(c.isdecimal() and len(c) < 10 for c in counts):
            sent = {"queued": int(counts[0]), "skipped": int(counts[1])}
    return _marketing_form(request, v, {"text": ""}, sent=sent)


@router.post("/sms/marketing")
def marketing_send(request: Request, v: Posted, data: Form) -> Response:
    """Preview: the text as sent, its length, how many it reaches and the SMS billed; then send, once confirmed."""
    given = _typed(data)
    step = text(data, "step")
    if step == "edit":
        return _marketing_form(request, v, given)
    try:
        _bounded(v, given)
        if step == "send":
            if text(data, "confirm") != "yes":
                # A marketing SMS to everyone cannot be called back: nothing goes without the box ticked.
                preview = messaging.preview_audience(v.ctx, given["text"])
                errors = {"confirm": [v._("Tick the box to confirm; nothing was sent.")]}
                return _marketing_form(request, v, given, status=422, errors=errors, preview=preview)
            done = messaging.send_to_audience(v.ctx, given["text"])
            return see_other(f"{PREFIX}/sms/marketing?said=sent&queued={done.queued}&skipped={done.skipped}")
        preview = messaging.preview_audience(v.ctx, given["text"])
    except InvalidInput as exc:
        return _marketing_form(request, v, given, status=422, errors=problems_by_field(exc))
    return _marketing_form(request, v, given, preview=preview)


# ---------------------------------------------------------------- the message log


def _offset(raw: str | None) -> int:
    return int(raw) if raw and raw.isdecimal() and len(raw) < 9 else 0


@router.get("/sms")
def listing(request: Request, v: Seen) -> Response:
    """Messages sent, newest first, with their status and delivery report: never a number or a text."""
    q = request.query_params
    given = {name: q.get(name, "").strip()[:64] for name in ("subject", "status", "since")}
    offset = _offset(q.get("offset"))
    errors: dict[str, list[str]] = {}
    found = None
    try:
        since = instant(v, "since", given["since"])
        found = messaging.list_messages(
            v.ctx, given["subject"] or None, given["status"] or None, since, limit=PAGE, offset=offset
        )
    except InvalidInput as exc:
        errors = problems_by_field(exc)
    except NotFound as exc:
        errors = {"subject": [str(exc)]}
    return render(
        request,
        "sms_list.html",
        v,
        status=422 if errors else 200,
        given=given,
        errors=errors,
        found=found,
        offset=offset,
        page=PAGE,
        statuses=STATUSES,
        status_order=[s.value for s in MessageStatus],
        meaning=lambda code: result_code(code).meaning,
        said=SAID.get(q.get("said", "")),
        policy=v.ctx.policy,
    )
