"""The forms on a customer's page: consent given and withdrawn, objection, restriction, orders and contracts."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from personvern.domain.errors import Conflict, InvalidInput
from personvern.services import consent, register
from personvern.web.customer_forms import (
    CONSENT_FIELDS,
    END_FIELDS,
    OBJECTION_FIELDS,
    RESTRICTION_FIELDS,
    START_FIELDS,
)
from personvern.web.pages import ConsoleRoute, invalid_field, problems_by_field, see_other
from personvern.web.subjects import page
from personvern.web.visit import PREFIX, Form, Posted, Visit, optional, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

MAX_DESCRIPTION = 500  # as the API bounds it


def _done(subject_id: str, said: str) -> Response:
    return see_other(f"{PREFIX}/subjects/{subject_id}?said={said}")


def _day(v: Visit, field: str, raw: str) -> date | None:
    """A date as a date input sends it (YYYY-MM-DD); empty is none."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_field(field, v._("must be a date, e.g. 2026-05-04")) from None


@router.post("/subjects/{subject_id}/consent")
def record_consent(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """Consent given (Art. 7(1)) or withdrawn (Art. 7(3)); how the person said it is required, as the proof."""
    given = {name: text(data, name) for name in ("c_target", "c_method")}
    withdraw = text(data, "action") == "withdraw"
    purpose, _sep, channel = given["c_target"].partition(":")
    try:
        if not given["c_target"]:
            raise invalid_field("c_target", v._("choose the purpose and the channel"))
        if not given["c_method"]:
            raise invalid_field("c_method", v._("choose how the person said it: the receipt records it"))
        record = consent.withdraw_consent if withdraw else consent.give_consent
        record(v.ctx, subject_id, purpose, channel, given["c_method"])
    except InvalidInput as exc:
        return page(request, v, subject_id, status=422, errors=problems_by_field(exc, CONSENT_FIELDS), given=given)
    except Conflict as exc:
        return page(request, v, subject_id, status=409, errors={"consent": [str(exc)]}, given=given)
    return _done(subject_id, "consent_withdrawn" if withdraw else "consent_given")


@router.post("/subjects/{subject_id}/objection")
def record_objection(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """An objection (Art. 21): marketing for the purpose stops whatever the consent says, until a fresh consent."""
    given = {name: text(data, name) for name in ("o_purpose", "o_reason")}
    try:
        if not given["o_purpose"]:
            raise invalid_field("o_purpose", v._("choose the purpose objected to"))
        consent.object_to(v.ctx, subject_id, given["o_purpose"], optional(data, "o_reason"))
    except InvalidInput as exc:
        return page(request, v, subject_id, status=422, errors=problems_by_field(exc, OBJECTION_FIELDS), given=given)
    except Conflict as exc:
        return page(request, v, subject_id, status=409, errors={"objection": [str(exc)]}, given=given)
    return _done(subject_id, "objected")


@router.post("/subjects/{subject_id}/restriction")
def record_restriction(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """Restrict processing (Art. 18(1)), or lift the restriction (Art. 18(3))."""
    given = {"r_reason": text(data, "r_reason")}
    lift = text(data, "action") == "lift"
    try:
        consent.restrict(v.ctx, subject_id, lift, optional(data, "r_reason"))
    except InvalidInput as exc:
        errors = problems_by_field(exc, RESTRICTION_FIELDS)
        return page(request, v, subject_id, status=422, errors=errors, given=given)
    except Conflict as exc:
        return page(request, v, subject_id, status=409, errors={"restriction": [str(exc)]}, given=given)
    return _done(subject_id, "lifted" if lift else "restricted")


@router.post("/subjects/{subject_id}/relationships")
def start_relationship(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """An order or a contract: the customer relationship that keeps the data (Art. 6(1)(b))."""
    given = {name: text(data, name) for name in ("s_type", "s_on", "s_ends", "s_description")}
    try:
        if len(given["s_description"]) > MAX_DESCRIPTION:
            raise invalid_field("s_description", v._("must be at most %(n)s characters", n=MAX_DESCRIPTION))
        register.start_relationship(
            v.ctx,
            subject_id,
            given["s_type"] or "order",
            _day(v, "s_on", given["s_on"]),
            _day(v, "s_ends", given["s_ends"]),
            given["s_description"] or None,
        )
    except InvalidInput as exc:
        return page(request, v, subject_id, status=422, errors=problems_by_field(exc, START_FIELDS), given=given)
    return _done(subject_id, "started")


@router.post("/subjects/{subject_id}/relationships/end")
def end_relationship(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    """End one of the customer's open orders or contracts: the customer or the company asked."""
    given = {name: text(data, name) for name in ("e_relationship", "e_on")}
    try:
        theirs = {r.id for r in register.show_subject(v.ctx, subject_id=subject_id).relationships}
        if given["e_relationship"] not in theirs:
            # Only this customer's own: the id comes from the page, but a form can be sent with any.
            raise invalid_field("e_relationship", v._("choose one of the customer's open orders or contracts"))
        register.end_relationship(v.ctx, given["e_relationship"], None, _day(v, "e_on", given["e_on"]))
    except InvalidInput as exc:
        return page(request, v, subject_id, status=422, errors=problems_by_field(exc, END_FIELDS), given=given)
    except Conflict as exc:
        return page(request, v, subject_id, status=409, errors={"end": [str(exc)]}, given=given)
    return _done(subject_id, "ended")
