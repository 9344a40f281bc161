"""Customers in the console: look-up, the subject page, and add and edit forms built from the policy's fields."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from personvern.domain.access import Permission
from personvern.domain.errors import Conflict, InvalidInput, NotFound
from personvern.policy.schema import Collected, FieldType, Policy
from personvern.services import consent, dossier, register
from personvern.services.register import SubjectView
from personvern.web import customer_forms
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, problems_by_field, render, see_other
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE = 50
SEARCHES = ("auto", "email", "phone", "organisation", "name", "id")
_ID = re.compile(r"[0-9a-f]{32}")
_ORGANISATION = re.compile(r"\d{9}")
_PHONE = re.compile(r"\+?[\d ()-]{8,20}")
INPUT_TYPES = {FieldType.EMAIL: "email", FieldType.PHONE: "tel"}
SAID = {
    "added": N_("The customer is added."),
    "updated": N_("The changes are saved."),
}


def _by(q: str, chosen: str) -> str:
    """What a look-up text is, unless the user said: an e-mail has @, an id is 32 hex digits, and so on."""
    if chosen != "auto":
        return chosen
    compact = q.replace(" ", "")
    if "@" in q:
        return "email"
    if _ID.fullmatch(q.lower()):
        return "id"
    if _ORGANISATION.fullmatch(compact):
        return "organisation"
    if _PHONE.fullmatch(q):
        return "phone"
    return "name"


@router.get("/subjects")
def find(request: Request, v: Seen) -> Response:
    q = request.query_params.get("q", "").strip()[:200]
    chosen = request.query_params.get("by", "auto")
    chosen = chosen if chosen in SEARCHES else "auto"
    offset = _offset(request.query_params.get("offset"))
    values: dict[str, Any] = {"q": q, "by": chosen, "views": None, "total": 0, "offset": offset, "errors": {}}
    values["missing"] = None
    if q:
        by = _by(q, chosen)
        values["searched"] = by
        try:
            if by in ("email", "phone", "id"):
                view = register.show_subject(
                    v.ctx,
                    subject_id=q.lower() if by == "id" else None,
                    email=q if by == "email" else None,
                    phone=q if by == "phone" else None,
                )
                values.update(views=[view], total=1)
            else:
                total, views = register.list_subjects(
                    v.ctx,
                    organisation_number=q if by == "organisation" else None,
                    name=q if by == "name" else None,
                    limit=PAGE,
                    offset=offset,
                )
                values.update(views=views, total=total)
        except InvalidInput as exc:
            values["errors"] = {"q": [p.message for p in exc.problems]}
            return render(request, "subjects.html", v, status=422, **values)
        except NotFound as exc:
            values["missing"] = str(exc)
    return render(request, "subjects.html", v, page=PAGE, **values)


def _offset(raw: str | None) -> int:
    return int(raw) if raw and raw.isdecimal() and len(raw) < 8 else 0


# ---------------------------------------------------------------- the subject page


@router.get("/subjects/new")
def add_form(request: Request, v: Seen) -> Response:
    kind = request.query_params.get("kind")
    policy = v.ctx.policy
    if kind not in policy.kinds:
        return render(request, "subject_kind.html", v, kinds=policy.kinds)
    return _form(request, v, kind, {}, {}, {})


@router.post("/subjects/new")
def add(request: Request, v: Posted, data: Form) -> Response:
    kind = text(data, "kind")
    policy = v.ctx.policy
    if kind not in policy.kinds:
        return render(request, "subject_kind.html", v, status=422, kinds=policy.kinds)
    values, reasons = _typed(policy, kind, data)
    try:
        subject = register.add_subject(v.ctx, kind, values, reasons)
    except InvalidInput as exc:
        return _form(request, v, kind, values, reasons, problems_by_field(exc), status=422)
    except Conflict as exc:
        return _form(request, v, kind, values, reasons, {}, status=409, conflict=str(exc))
    return see_other(f"{PREFIX}/subjects/{subject.id}?said=added")


@dataclass(frozen=True)
class FormField:
    """One input of an add or edit form, as the policy declares the field for the kind."""

    name: str
    label: str
    input_type: str
    required: bool
    when_needed: bool
    multiline: bool


def fields_of(policy: Policy, kind: str, lang: str) -> list[FormField]:
    return [
        FormField(
            name,
            spec.label.get(lang),
            INPUT_TYPES.get(spec.type, "text"),
            spec.required,
            spec.collected is Collected.WHEN_NEEDED,
            spec.type is FieldType.ADDRESS,
        )
        for name, spec in policy.fields_for(kind).items()
    ]


def _typed(policy: Policy, kind: str, data: FormData) -> tuple[dict[str, str], dict[str, str]]:
    """The values filled in, and the reasons given for 'when needed' fields that are filled in."""
    values: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for name, spec in policy.fields_for(kind).items():
        value = text(data, name)
        if value:
            values[name] = value
            why = text(data, f"why_{name}")
            if why and spec.collected is Collected.WHEN_NEEDED:
                reasons[name] = why
    return values, reasons


def _form(
    request: Request,
    v: Visit,
    kind: str,
    values: dict[str, str],
    reasons: dict[str, str],
    errors: dict[str, list[str]],
    *,
    status: int = 200,
    conflict: str | None = None,
    subject_id: str | None = None,
) -> Response:
    return render(
        request,
        "subject_form.html",
        v,
        status=status,
        kind=kind,
        kind_label=v.ctx.policy.kinds[kind].label.get(v.lang),
        fields=fields_of(v.ctx.policy, kind, v.lang),
        values=values,
        reasons=reasons,
        errors=errors,
        conflict=conflict,
        subject_id=subject_id,
    )


def page(
    request: Request,
    v: Visit,
    subject_id: str,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    """The subject page; after a form of it that failed, with the problems by field and what was typed."""
    view = register.show_subject(v.ctx, subject_id=subject_id)
    ledger = consent.consent_ledger(v.ctx, subject_id) if v.may(Permission.CONSENT_READ) else None
    file = dossier.dossier(v.ctx, subject_id)
    key = request.query_params.get("said", "")
    said = SAID.get(key) or customer_forms.SAID.get(key)
    return render(
        request,
        "subject.html",
        v,
        status=status,
        view=view,
        ledger=ledger,
        file=file,
        said=said if status == 200 else None,
        policy=v.ctx.policy,
        errors=errors or {},
        given=given or {},
        **customer_forms.choices(v, view, ledger),
    )


@router.get("/subjects/{subject_id}")
def show(request: Request, v: Seen, subject_id: str) -> Response:
    return page(request, v, subject_id)


@router.get("/subjects/{subject_id}/edit")
def edit_form(request: Request, v: Seen, subject_id: str) -> Response:
    view = register.show_subject(v.ctx, subject_id=subject_id)
    return _form(request, v, view.subject.kind, dict(view.values), {}, {}, subject_id=subject_id)


def _changes(view: SubjectView, typed: dict[str, str], fields: list[FormField]) -> tuple[dict[str, str], list[str]]:
    changes = {name: value for name, value in typed.items() if view.values.get(name) != value}
    removed = [f.name for f in fields if f.name in view.values and f.name not in typed]
    return changes, removed


@router.post("/subjects/{subject_id}/edit")
def edit(request: Request, v: Posted, data: Form, subject_id: str) -> Response:
    view = register.show_subject(v.ctx, subject_id=subject_id)
    kind = view.subject.kind
    typed, reasons = _typed(v.ctx.policy, kind, data)
    changes, removed = _changes(view, typed, fields_of(v.ctx.policy, kind, v.lang))
    reasons = {name: why for name, why in reasons.items() if name in changes}
    if not changes and not removed:
        errors = {"changes": [v._("Nothing was changed: every value is as it was.")]}
        return _form(request, v, kind, typed, reasons, errors, status=422, subject_id=subject_id)
    try:
        register.update_subject(v.ctx, subject_id, changes, removed, reasons)
    except InvalidInput as exc:
        return _form(request, v, kind, typed, reasons, problems_by_field(exc), status=422, subject_id=subject_id)
    except Conflict as exc:
        return _form(request, v, kind, typed, reasons, {}, status=409, conflict=str(exc), subject_id=subject_id)
    return see_other(f"{PREFIX}/subjects/{subject_id}?said=updated")


@router.get("/subjects/{subject_id}/receipts/{event_id}")
def receipt(request: Request, v: Seen, subject_id: str, event_id: str) -> Response:
    """A consent event's receipt (Kantara Consent Receipt v1.1): the proof of consent (Art. 7(1))."""
    lang = v.lang if v.lang in v.ctx.policy.languages else None
    found = consent.receipt(v.ctx, event_id, lang, subject_id)
    shown = json.dumps(found, ensure_ascii=False, indent=2, default=str)
    return render(request, "receipt.html", v, subject_id=subject_id, event_id=event_id, receipt=shown)
