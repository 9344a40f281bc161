"""/api/v1/record: the record of processing activities (GDPR Art. 30(1)) as JSON, CSV or HTML."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from personvern.api.security import Ctx
from personvern.services.record import record_of_processing

router = APIRouter(prefix="/record", tags=["record"])

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}
RECORD = {
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
    },
    "description": "The record: controller, purposes, data, recipients, transfers, retention, roles, risks",
}


@router.get(
    "",
    summary="The record of processing, with live figures from the register (reading it is audited)",
    response_class=Response,
    responses={200: RECORD},
)
def export(
    ctx: Ctx,
    format: Annotated[Literal["json", "csv", "html"], Query(description="json, csv or html")] = "json",
    lang: Annotated[str | None, Query(max_length=8, description="nb or en (default: the policy's first)")] = None,
) -> Response:
    _record, text = record_of_processing(ctx, lang, format)
    return Response(text, media_type=MEDIA[format])
