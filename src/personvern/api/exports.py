"""/api/v1/exports: customers' master data for the accounts as SAF-T or CSV; each export a recorded disclosure."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.security import Ctx
from personvern.services import exports
from personvern.services.exports import Export

router = APIRouter(prefix="/exports", tags=["exports"])


class SaftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: Literal["finago", "auditor"] | None = Field(
        default=None, description="who it is for (default: finago; the auditor's role: auditor)"
    )


class CustomersIn(SaftIn):
    format: Literal["csv"] = "csv"


def _file(done: Export, media_type: str, suffix: str) -> Response:
    r = done.record
    return Response(
        content=done.content,
        status_code=201,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="customers-{r.id}.{suffix}"',
            "X-Export-Id": r.id,
            "X-Export-Sha256": r.sha256,
            "X-Export-Customers": str(r.subjects),
        },
    )


@router.post(
    "/saft",
    status_code=201,
    summary="The customers as SAF-T Financial 1.30 (MasterFiles/Customers), only the recipient's fields",
    response_class=Response,
    responses={201: {"content": {"application/xml": {}}, "description": "the SAF-T file"}},
)
def saft(ctx: Ctx, body: SaftIn) -> Response:
    return _file(exports.export_customers(ctx, "saft", body.recipient), "application/xml", "xml")


@router.post(
    "/customers",
    status_code=201,
    summary="The customers as CSV (formula-like cells neutralised), only the recipient's fields",
    response_class=Response,
    responses={201: {"content": {"text/csv": {}}, "description": "the CSV file"}},
)
def customers(ctx: Ctx, body: CustomersIn) -> Response:
    return _file(exports.export_customers(ctx, body.format, body.recipient), "text/csv; charset=utf-8", "csv")
