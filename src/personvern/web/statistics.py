"""The privacy statistics in the console: the tables of a year, a year chooser, and the same as one CSV file."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from personvern.domain.errors import InvalidInput
from personvern.domain.statistics import FIRST_YEAR
from personvern.reports.statistics import as_csv
from personvern.services.retention import today
from personvern.services.statistics import statistics
from personvern.web.pages import ConsoleRoute, invalid_field, problems_by_field, render
from personvern.web.visit import PREFIX, Seen, Visit

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _year(v: Visit, raw: str) -> int | None:
    """The year asked for; None (this year) when none is."""
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) != 4:
        raise invalid_field("year", v._("must be a year, e.g. 2025"))
    if not FIRST_YEAR <= int(raw) <= today(v.ctx).year:
        raise invalid_field("year", v._("must be a year from %(first)s to this year", first=FIRST_YEAR))
    return int(raw)


@router.get("/statistics")
def page(request: Request, v: Seen) -> Response:
    raw = request.query_params.get("year", "").strip()
    try:
        found = statistics(v.ctx, _year(v, raw))
    except InvalidInput as exc:
        # This year's figures, with the chooser saying what was wrong with the one asked for.
        found = statistics(v.ctx)
        errors = problems_by_field(exc, {"until": "year"})
        return render(request, "statistics.html", v, status=422, s=found, given=raw[:10], errors=errors)
    return render(request, "statistics.html", v, s=found, given=str(found.period.first), errors={})


@router.get("/statistics.csv")
def download(request: Request, v: Seen) -> Response:
    found = statistics(v.ctx, _year(v, request.query_params.get("year", "").strip()))
    name = f"statistics-{found.period.label}.csv"
    return Response(
        as_csv(found, v.ctx.policy.controller.name),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
