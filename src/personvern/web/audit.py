"""The audit log in the console: verify the hash chain, and read who read or changed what, when and why."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from personvern.domain.access import Permission
from personvern.domain.audit import AuditQuery
from personvern.domain.errors import InvalidInput
from personvern.services.admin import read_audit_log, verify_audit
from personvern.web.pages import ConsoleRoute, instant, invalid_field, problems_by_field, render
from personvern.web.visit import PREFIX, Posted, Seen, Visit, runtime

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE = 50
FILTERS = ("subject", "actor", "action", "since", "before")


def _query(v: Visit, given: dict[str, str]) -> AuditQuery:
    before = given["before"]
    if before and (not before.isdecimal() or len(before) > 12):
        raise invalid_field("before", v._("must be an entry number"))
    return AuditQuery(
        subject_id=given["subject"] or None,
        actor=given["actor"] or None,
        since=instant(v, "since", given["since"]),
        action=given["action"] or None,
        limit=PAGE,
        before=int(before) if before else None,
    )


@router.get("/audit")
def log(request: Request, v: Seen) -> Response:
    """Newest first, with the CLI's filters; reading the log is itself recorded (`audit.read`, Art. 5(2))."""
    given = {name: request.query_params.get(name, "").strip()[:100] for name in FILTERS}
    found = None
    errors: dict[str, list[str]] = {}
    if v.may(Permission.AUDIT_READ) or not v.may(Permission.AUDIT_VERIFY):
        try:
            found = read_audit_log(v.ctx.uow, v.ctx.clock, v.ctx.actor, _query(v, given))
        except InvalidInput as exc:
            errors = problems_by_field(exc, {"subject_id": "subject"})
    return render(
        request, "audit.html", v, status=422 if errors else 200, given=given, errors=errors, found=found, report=None
    )


@router.post("/audit/verify")
def verify(request: Request, v: Posted) -> Response:
    """Walk the whole chain: intact with N entries, or broken at entry K; an intact head is checkpointed."""
    rt = runtime(request)
    report = verify_audit(v.ctx.uow, v.ctx.actor, rt.checkpoints, v.ctx.clock, rt.simulation)
    empty = dict.fromkeys(FILTERS, "")
    return render(request, "audit.html", v, given=empty, errors={}, found=None, report=report)
