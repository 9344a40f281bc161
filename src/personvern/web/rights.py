"""Data subject requests in the console: open, verify, extend, fulfil or reject, and the answer as a zip file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from personvern.connectors.wake import wake
from personvern.domain.errors import InvalidInput
from personvern.domain.requests import (
    MAX_EXTENSION_MONTHS,
    ONLY_ON_THE_PAGE,
    Channel,
    RequestState,
    RequestType,
    Verification,
)
from personvern.policy.schema import LegalBasis
from personvern.reports.package import answer_zip
from personvern.services import confirmations, rights
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, instant, invalid_field, problems_by_field, render, see_other
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, optional, runtime, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

LISTED = 500
SAID = {
    "opened": N_("The request is registered. Verify the person's identity before anything is disclosed or changed."),
    "verified": N_("The identity is verified."),
    "started": N_("The request is marked as in progress."),
    "extended": N_("The deadline is extended. Tell the person why, within the first month."),
    "task_done": N_("The task is marked as done. The request completes when every recipient has confirmed."),
}
# Form fields whose problems the services name otherwise.
ALIASES = {"subject": "identity", "received_at": "received", "lang": "language"}


@router.get("/requests")
def listing(request: Request, v: Seen) -> Response:
    everything = request.query_params.get("all") == "1"
    today, found = rights.list_requests(v.ctx, everything=everything, limit=LISTED)
    return render(request, "requests.html", v, today=today, found=found, everything=everything)


def _choices(v: Visit) -> dict[str, Any]:
    policy = v.ctx.policy
    # Art. 21: direct marketing (a purpose with channels) and processing based on Art. 6(1)(e) or (f).
    objectable = [
        key
        for key, p in policy.purposes.items()
        if p.channels or p.legal_basis in (LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS)
    ]
    return {
        "types": [t.value for t in RequestType],
        "channels": [c.value for c in Channel],
        "languages": policy.languages,
        "purposes": objectable or ["marketing"],
        "fields": policy.fields,
    }


@router.get("/requests/new")
def open_form(request: Request, v: Seen) -> Response:
    given = {"subject": request.query_params.get("subject", "")[:40], "type": "access", "channel": "email"}
    return render(request, "request_new.html", v, given=given, errors={}, **_choices(v))


def _corrections(v: Visit, data: FormData) -> tuple[dict[str, str], list[str]]:
    """A rectification's corrections: one FIELD = VALUE per line, and the fields to remove."""
    changes: dict[str, str] = {}
    for line in text(data, "corrections").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise invalid_field("corrections", v._("write one correction per line: field = value"))
        changes[name.strip()] = value.strip()
    remove = [n for n in text(data, "remove").replace(",", " ").split() if n]
    return changes, remove


@router.post("/requests/new")
def open_request(request: Request, v: Posted, data: Form) -> Response:
    given = {name: text(data, name) for name in ("type", "email", "phone", "subject", "channel", "language")}
    given |= {name: text(data, name) for name in ("received", "purpose", "corrections", "remove")}
    kind = given["type"]
    try:
        changes, remove = _corrections(v, data) if kind == RequestType.RECTIFICATION.value else ({}, [])
        opened = rights.open_request(
            v.ctx,
            kind,
            email=optional(data, "email"),
            phone=optional(data, "phone"),
            subject_id=optional(data, "subject"),
            channel=given["channel"] or "email",
            received_at=instant(v, "received", given["received"]),
            language=optional(data, "language"),
            purpose=optional(data, "purpose") if kind == RequestType.OBJECTION.value else None,
            changes=changes,
            unset=remove,
        )
    except InvalidInput as exc:
        errors = problems_by_field(exc, ALIASES | {"set": "corrections"})
        return render(request, "request_new.html", v, status=422, given=given, errors=errors, **_choices(v))
    return see_other(f"{PREFIX}/requests/{opened.request.id}?said=opened")


def _page(request: Request, v: Visit, request_id: str, status: int = 200, **values: Any) -> Response:
    view = rights.show_request(v.ctx, request_id)
    said = SAID.get(request.query_params.get("said", ""))
    return render(
        request,
        "request.html",
        v,
        status=status,
        view=view,
        r=view.request,
        said=said,
        methods=[m.value for m in Verification if m not in ONLY_ON_THE_PAGE],
        months=list(range(1, MAX_EXTENSION_MONTHS + 1)),
        done=view.request.state in (RequestState.COMPLETED, RequestState.REJECTED),
        carried_out=datetime.fromisoformat(view.request.outcome["carried_out_at"])
        if view.request.carried_out
        else None,
        errors=values.pop("errors", {}),
        policy=v.ctx.policy,
        **values,
    )


@router.get("/requests/{request_id}")
def show(request: Request, v: Seen, request_id: str) -> Response:
    return _page(request, v, request_id)


@router.post("/requests/{request_id}/verify")
def verify(request: Request, v: Posted, data: Form, request_id: str) -> Response:
    try:
        rights.verify_request(v.ctx, request_id, text(data, "method"))
    except InvalidInput as exc:
        return _page(request, v, request_id, 422, errors=problems_by_field(exc))
    return see_other(f"{PREFIX}/requests/{request_id}?said=verified")


@router.post("/requests/{request_id}/start")
def start(request: Request, v: Posted, request_id: str) -> Response:
    rights.start_request(v.ctx, request_id)
    return see_other(f"{PREFIX}/requests/{request_id}?said=started")


@router.post("/requests/{request_id}/extend")
def extend(request: Request, v: Posted, data: Form, request_id: str) -> Response:
    months = text(data, "months")
    try:
        if not months.isdecimal():
            raise invalid_field("months", v._("choose 1 or 2 months"))
        rights.extend_request(v.ctx, request_id, text(data, "reason"), int(months))
    except InvalidInput as exc:
        return _page(request, v, request_id, 422, errors=problems_by_field(exc))
    return see_other(f"{PREFIX}/requests/{request_id}?said=extended")


def _download(request_id: str, done: rights.Fulfilment) -> Response:
    """The answer as a zip file, made when the request is carried out; its files are kept sealed only for the
    policy's `[requests] keep_answer` (the API's `GET /api/v1/requests/{id}/package` fetches them again)."""
    return Response(
        answer_zip(done.files),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="request-{request_id}.zip"'},
    )


@router.get("/requests/{request_id}/package")
def package(request: Request, v: Seen, request_id: str) -> Response:
    """The answer again, while the policy keeps it (the CEO lost the file, or sends it another way)."""
    return _download(request_id, rights.answer(v.ctx, request_id))


@router.post("/requests/{request_id}/fulfil")
def fulfil(request: Request, v: Posted, data: Form, request_id: str) -> Response:
    kind = rights.show_request(v.ctx, request_id).request.type
    if kind is RequestType.ERASURE and text(data, "confirm") != "yes":
        # An erasure cannot be undone (Art. 17): one click on the wrong request must not be enough.
        errors = {"confirm": [v._("Tick the box to confirm the erasure; nothing was erased.")]}
        return _page(request, v, request_id, 422, errors=errors)
    done = rights.fulfil_request(v.ctx, request_id)
    wake(runtime(request).settings)  # a request from the privacy page: its answer's link goes out now
    return _download(request_id, done)


@router.get("/tasks")
def tasks(request: Request, v: Seen) -> Response:
    """Every open task, overdue first (the overview shows the first ones)."""
    _, found = confirmations.list_tasks(v.ctx, limit=LISTED)
    return render(request, "tasks.html", v, tasks=found)


@router.post("/tasks/{task_id}/done")
def task_done(request: Request, v: Posted, data: Form, task_id: str) -> Response:
    """The CEO did a recipient's part by hand (Finago, the auditor, a delivery given up on) and says how; the
    request completes by itself with the last confirmation (issue 15)."""
    try:
        done = confirmations.close_task(v.ctx, task_id, text(data, f"note-{task_id}"))
    except InvalidInput as exc:
        # Shown again on its request's page (the form says which), with the problem beside the note.
        return _page(request, v, text(data, "request"), 422, errors=problems_by_field(exc, {"note": f"note-{task_id}"}))
    return see_other(f"{PREFIX}/requests/{done.confirmation.request_id}?said=task_done")


@router.post("/requests/{request_id}/reject")
def reject(request: Request, v: Posted, data: Form, request_id: str) -> Response:
    try:
        done = rights.reject_request(v.ctx, request_id, text(data, "rejection"))
    except InvalidInput as exc:
        return _page(request, v, request_id, 422, errors=problems_by_field(exc, {"reason": "rejection"}))
    wake(runtime(request).settings)
    return _download(request_id, done)
