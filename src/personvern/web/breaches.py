"""Breaches in the console (GDPR Art. 33-34): the list with its 72-hour clock, add, show, update and notify."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from personvern.domain.breaches import Breach, Phase, Risk
from personvern.domain.errors import Conflict, InvalidInput, NotFound
from personvern.services import breaches
from personvern.services.breaches import BreachInput
from personvern.web.i18n import N_
from personvern.web.pages import (
    ConsoleRoute,
    instant,
    invalid_field,
    local_input,
    problems_by_field,
    render,
    see_other,
)
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

TEXTS = (
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
COUNTS = ("people", "records")
TIMES = ("discovered", "occurred", "occurred_until")
ATTRIBUTES = {"discovered": "discovered_at", "occurred": "occurred_at", "occurred_until": "occurred_until"}
FIELDS = {attribute: name for name, attribute in ATTRIBUTES.items()}  # the services' field names, as the form's
SAID = {
    "added": N_("The breach is recorded. The authority must be told within 72 hours of its discovery."),
    "updated": N_("The breach is updated."),
    "notified": N_("The notification to the authority is recorded."),
}
_IDS = re.compile(r"[\s,;]+")


def _count(v: Visit, name: str, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) > 12:
        raise invalid_field(name, v._("must be a whole number"))
    return int(raw)


def _typed(data: FormData) -> dict[str, str]:
    return {name: text(data, name) for name in (*TEXTS, *COUNTS, *TIMES, "categories", "risk", "subjects")}


def _input(v: Visit, typed: dict[str, str], held: Breach | None = None) -> BreachInput:
    """The form as the service takes it; on an update, only what differs from the record (an empty text clears)."""
    fields: dict[str, Any] = {}
    for name in TEXTS:
        value = typed[name]
        stored = getattr(held, name) if held is not None else None
        if held is None:
            fields[name] = value or None
        elif value != (stored or ""):
            fields[name] = value
    for name in COUNTS:
        number = _count(v, name, typed[name])
        if number != (getattr(held, name) if held is not None else None):
            fields[name] = number
    for name, attribute in ATTRIBUTES.items():
        stored_at = getattr(held, attribute) if held is not None else None
        if typed[name] and typed[name] != local_input(v, stored_at):
            fields[attribute] = instant(v, name, typed[name])
    categories = [line.strip() for line in typed["categories"].splitlines() if line.strip()]
    if categories != list(held.categories if held is not None else []):
        fields["categories"] = categories
    risk = typed["risk"] or None
    if risk != (held.risk.value if held is not None and held.risk else None) and risk is not None:
        fields["risk"] = risk
    fields["subjects"] = [sid for sid in _IDS.split(typed["subjects"]) if sid]
    return BreachInput(**fields)


def _form_values(v: Visit, b: Breach) -> dict[str, str]:
    values = {name: getattr(b, name) or "" for name in TEXTS}
    values |= {name: "" if getattr(b, name) is None else str(getattr(b, name)) for name in COUNTS}
    values |= {name: local_input(v, getattr(b, attribute)) for name, attribute in ATTRIBUTES.items()}
    values |= {"categories": "\n".join(b.categories), "risk": b.risk.value if b.risk else "", "subjects": ""}
    return values


def _form(request: Request, v: Visit, typed: dict[str, str], errors: dict[str, list[str]], **values: Any) -> Response:
    return render(
        request,
        "breach_form.html",
        v,
        status=values.pop("status", 200),
        typed=typed,
        errors=errors,
        risks=[r.value for r in Risk],
        breach=values.pop("breach", None),
        **values,
    )


@router.get("/breaches")
def listing(request: Request, v: Seen) -> Response:
    found = breaches.list_breaches(v.ctx)
    return render(request, "breaches.html", v, found=found, now=v.ctx.clock.now())


@router.get("/breaches/new")
def add_form(request: Request, v: Seen) -> Response:
    breaches.list_breaches(v.ctx, overdue_only=True)  # the role is checked before a form is offered
    typed = {name: "" for name in _typed(FormData())}
    return _form(request, v, typed, {})


@router.post("/breaches/new")
def add(request: Request, v: Posted, data: Form) -> Response:
    typed = _typed(data)
    try:
        breach = breaches.add_breach(v.ctx, _input(v, typed))
    except InvalidInput as exc:
        return _form(request, v, typed, problems_by_field(exc, FIELDS), status=422)
    except NotFound as exc:
        return _form(request, v, typed, {"subjects": [str(exc)]}, status=422)
    return see_other(f"{PREFIX}/breaches/{breach.id}?said=added")


def _page(request: Request, v: Visit, breach_id: str, status: int = 200, **values: Any) -> Response:
    breach = breaches.show_breach(v.ctx, breach_id)
    lang = v.lang if v.lang in v.ctx.policy.languages else None
    return render(
        request,
        "breach.html",
        v,
        status=status,
        b=breach,
        now=v.ctx.clock.now(),
        report=breaches.report(v.ctx, breach, lang),
        phases=[p.value for p in Phase],
        said=SAID.get(request.query_params.get("said", "")),
        errors=values.pop("errors", {}),
        given=values.pop("given", {}),
        notified=values.pop("notified", None),
        **values,
    )


@router.get("/breaches/{breach_id}")
def show(request: Request, v: Seen, breach_id: str) -> Response:
    return _page(request, v, breach_id)


@router.get("/breaches/{breach_id}/edit")
def edit_form(request: Request, v: Seen, breach_id: str) -> Response:
    breach = breaches.show_breach(v.ctx, breach_id)
    return _form(request, v, _form_values(v, breach), {}, breach=breach)


@router.post("/breaches/{breach_id}/edit")
def edit(request: Request, v: Posted, data: Form, breach_id: str) -> Response:
    breach = breaches.show_breach(v.ctx, breach_id)
    typed = _typed(data)
    try:
        given = _input(v, typed, breach)
        if given == BreachInput():
            unchanged = {"changes": [v._("Nothing was changed: every value is as recorded.")]}
            return _form(request, v, typed, unchanged, status=422, breach=breach)
        breaches.update_breach(v.ctx, breach_id, given)
    except InvalidInput as exc:
        return _form(request, v, typed, problems_by_field(exc, FIELDS), status=422, breach=breach)
    except NotFound as exc:
        return _form(request, v, typed, {"subjects": [str(exc)]}, status=422, breach=breach)
    except Conflict as exc:
        return _form(request, v, typed, {"changes": [str(exc)]}, status=409, breach=breach)
    return see_other(f"{PREFIX}/breaches/{breach_id}?said=updated")


@router.post("/breaches/{breach_id}/authority")
def notify_authority(request: Request, v: Posted, data: Form, breach_id: str) -> Response:
    given = {name: text(data, name) for name in ("reference", "phase", "late_reason", "at")}
    try:
        breaches.notify_authority(
            v.ctx,
            breach_id,
            given["reference"] or None,
            given["phase"] or None,
            given["late_reason"] or None,
            instant(v, "at", given["at"]),
        )
    except InvalidInput as exc:
        return _page(request, v, breach_id, 422, errors=problems_by_field(exc), given=given)
    return see_other(f"{PREFIX}/breaches/{breach_id}?said=notified")


@router.post("/breaches/{breach_id}/subjects")
def notify_subjects(request: Request, v: Posted, data: Form, breach_id: str) -> Response:
    message = text(data, "text")
    try:
        done = breaches.notify_subjects(v.ctx, breach_id, message)
    except InvalidInput as exc:
        return _page(request, v, breach_id, 422, errors=problems_by_field(exc), given={"text": message})
    return _page(request, v, breach_id, notified=done)
