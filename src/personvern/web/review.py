"""The annual review in the console: run it for a year, read its summary, download its report, and sign it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from personvern.domain.errors import InvalidInput
from personvern.reports.review import render_html
from personvern.services import review
from personvern.services.retention import today
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, invalid_field, problems_by_field, render, see_other
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

SAID = {"run": N_("The review is stored. Read it, then sign it: what it lists without a reason is then removed.")}
FORMATS = {"json": "application/json", "html": "text/html; charset=utf-8"}


def _year(v: Visit, raw: str | None) -> int:
    """The year asked for; by default the latest unsigned one, else last year."""
    if raw:
        if not raw.isdecimal() or len(raw) != 4:
            raise invalid_field("year", v._("must be a year, e.g. 2025"))
        return int(raw)
    return review.unsigned_year(v.ctx) or today(v.ctx).year - 1


def _year_page(request: Request, v: Visit, year: int, *, status: int = 200, **values: Any) -> Response:
    return render(
        request,
        "review_year.html",
        v,
        status=status,
        year=year,
        reviews=review.reviews_of(v.ctx, year),
        unsigned=review.unsigned_year(v.ctx),
        errors=values.pop("errors", {}),
        given=values.pop("given", {"year": str(year)}),
        signer=v.ctx.policy.review.signed_by,
        **values,
    )


@router.get("/review")
def year_page(request: Request, v: Seen) -> Response:
    raw = request.query_params.get("year", "").strip()
    try:
        year = _year(v, raw)
    except InvalidInput as exc:
        fallback = _year(v, None)
        return _year_page(request, v, fallback, status=422, errors=problems_by_field(exc), given={"year": raw[:10]})
    return _year_page(request, v, year)


@router.post("/review")
def run(request: Request, v: Posted, data: Form) -> Response:
    raw = text(data, "year")
    try:
        if not raw:
            raise invalid_field("year", v._("must be a year, e.g. 2025"))
        done = review.run_review(v.ctx, _year(v, raw))
    except InvalidInput as exc:
        fallback = _year(v, None)
        return _year_page(request, v, fallback, status=422, errors=problems_by_field(exc), given={"year": raw[:10]})
    return see_other(f"{PREFIX}/review/{done.record.id}?said=run")


def _review_page(request: Request, v: Visit, review_id: str, *, status: int = 200, **values: Any) -> Response:
    found = review.load_review(v.ctx, review_id)
    return render(
        request,
        "review.html",
        v,
        status=status,
        r=found.record,
        summary=found.report["summary"],
        signer=v.ctx.policy.review.signed_by,
        said=SAID.get(request.query_params.get("said", "")) if status == 200 else None,
        errors=values.pop("errors", {}),
        signed=values.pop("signed", None),
        policy=v.ctx.policy,
        **values,
    )


@router.get("/review/{review_id}")
def show(request: Request, v: Seen, review_id: str) -> Response:
    return _review_page(request, v, review_id)


@router.get("/review/{review_id}/report.{format}")
def report(request: Request, v: Seen, review_id: str, format: str) -> Response:
    """The files `review run --out` writes: the JSON is the signed text itself, the HTML the page to read."""
    if format not in FORMATS:
        raise invalid_field("format", v._("must be json or html"))
    found = review.load_review(v.ctx, review_id)
    record = found.record
    if format == "json":
        body = record.report.encode("utf-8")  # the bytes as hashed: their sha256 is the review's
    else:
        languages = v.ctx.policy.languages
        lang = v.lang if v.lang in languages else languages[0]
        signed = record if record.signed_at else None
        body = render_html(v.ctx.policy, found.report, record.id, record.sha256, lang, signed).encode("utf-8")
    name = f"review-{record.year}-{record.id}.{format}"
    return Response(body, media_type=FORMATS[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/review/{review_id}/sign")
def sign(request: Request, v: Posted, data: Form, review_id: str) -> Response:
    if text(data, "confirm") != "yes":
        # Signing removes every record the review lists without a reason: it cannot be undone.
        errors = {"confirm": [v._("Tick the box to confirm; nothing was signed or removed.")]}
        return _review_page(request, v, review_id, status=422, errors=errors)
    done = review.sign_review(v.ctx, review_id)
    return _review_page(request, v, review_id, signed=done)
