"""/api/v1/reviews: the annual review of every record's reason to be kept, run, read and signed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.fields import Id
from personvern.api.security import Ctx
from personvern.reports.review import render_html
from personvern.services import review
from personvern.services.ports import ReviewRecord

router = APIRouter(prefix="/reviews", tags=["review"])


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=9999, description="The year reviewed (2000 to this year).", examples=[2025])


class ReviewOut(BaseModel):
    id: str
    year: int
    sha256: str = Field(description="Of the report's canonical JSON (`/report`): the hash in the audit chain.")
    created_at: datetime
    created_by: str
    signed_at: datetime | None
    signed_by: str | None
    summary: dict[str, Any]

    @classmethod
    def of(cls, record: ReviewRecord, report: dict[str, Any]) -> ReviewOut:
        return cls(
            id=record.id,
            year=record.year,
            sha256=record.sha256,
            created_at=record.created_at,
            created_by=record.created_by,
            signed_at=record.signed_at,
            signed_by=record.signed_by,
            summary=report["summary"],
        )


class FailedOut(BaseModel):
    id: str
    error: str


class SignedOut(ReviewOut):
    archived: int
    erased: int
    erased_except_held: int
    skipped: int
    archive_records_erased: int
    failed: list[FailedOut]


@router.post("", status_code=201, summary="Run the review of a year: every record with the reason that keeps it")
def run_review(ctx: Ctx, body: ReviewIn) -> ReviewOut:
    done = review.run_review(ctx, body.year)
    return ReviewOut.of(done.record, done.report)


@router.get("/{review_id}", summary="One review: its year, hash, summary and signature")
def show_review(ctx: Ctx, review_id: Id) -> ReviewOut:
    done = review.load_review(ctx, review_id)
    return ReviewOut.of(done.record, done.report)


REPORT = {
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}},
    },
    "description": "json: the signed text itself (its sha256 is the review's); html: the page for the signer",
}


@router.get(
    "/{review_id}/report",
    summary="The review's report: the signed JSON text, or the HTML page to read before signing",
    response_class=Response,
    responses={200: REPORT},
)
def report(
    ctx: Ctx,
    review_id: Id,
    format: Annotated[Literal["json", "html"], Query(description="json (the signed text) or html")] = "json",
    lang: Annotated[str | None, Query(max_length=8, description="nb or en (default: the policy's first)")] = None,
) -> Response:
    done = review.load_review(ctx, review_id)
    if format == "json":
        # The bytes as hashed: a client checks the sha256 of the body against the review's.
        return Response(done.record.report.encode("utf-8"), media_type="application/json")
    language = review.language(ctx, lang)
    signed = done.record if done.record.signed_at else None
    html = render_html(ctx.policy, done.report, done.record.id, done.record.sha256, language, signed)
    return Response(html, media_type="text/html; charset=utf-8")


@router.post("/{review_id}/sign", summary="Sign a review: its hash goes into the audit chain; what has no reason goes")
def sign_review(ctx: Ctx, review_id: Id) -> SignedOut:
    signed = review.sign_review(ctx, review_id)
    r = signed.removed
    done = review.load_review(ctx, review_id)
    return SignedOut(
        **ReviewOut.of(signed.record, done.report).model_dump(),
        archived=r.archived,
        erased=r.erased,
        erased_except_held=r.held,
        skipped=r.skipped,
        archive_records_erased=signed.archive_erased,
        failed=[FailedOut(id=i, error=why) for i, why in signed.failed],
    )
