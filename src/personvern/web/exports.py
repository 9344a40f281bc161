"""The accounting export in the console: customers' master data as SAF-T or CSV, for Finago or the auditor."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from personvern.domain.access import Permission
from personvern.domain.errors import InvalidInput
from personvern.services import exports
from personvern.web.pages import ConsoleRoute, problems_by_field, render
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

MEDIA = {"saft": ("application/xml", "xml"), "csv": ("text/csv; charset=utf-8", "csv")}


def _recipients(v: Visit) -> list[tuple[str, str]]:
    return [(key, v.ctx.policy.recipients[key].name) for key in exports.recipients_offered(v.ctx)]


def _page(request: Request, v: Visit, given: dict[str, str], errors: dict[str, list[str]]) -> Response:
    status = 422 if errors else 200
    return render(request, "exports.html", v, status=status, recipients=_recipients(v), given=given, errors=errors)


@router.get("/exports")
def form(request: Request, v: Seen) -> Response:
    v.ctx.actor.require(Permission.ACCOUNTING_EXPORT)
    # As `export saft` without --recipient: the CEO exports for Finago, the auditor their own copy.
    offered = exports.recipients_offered(v.ctx)
    usual = exports.default_recipient(v.ctx)
    chosen = usual if usual in offered else (offered[0] if offered else "")
    return _page(request, v, {"format": "saft", "recipient": chosen}, {})


@router.post("/exports")
def export(request: Request, v: Posted, data: Form) -> Response:
    """The file downloads at once; the export is recorded as a disclosure of each customer in it (Art. 5(2))."""
    given = {"format": text(data, "format"), "recipient": text(data, "recipient")}
    try:
        done = exports.export_customers(v.ctx, given["format"], given["recipient"] or None)
    except InvalidInput as exc:
        errors = problems_by_field(exc)
        return render(request, "exports.html", v, status=422, recipients=_recipients(v), given=given, errors=errors)
    media, suffix = MEDIA[done.record.kind]
    name = f"customers-{done.record.recipient}-{done.record.at.date().isoformat()}.{suffix}"
    return Response(done.content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
