"""Retention in the console: the plan, the run (after a confirmation), and the archive the CEO alone may read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from personvern.domain.retention import Action
from personvern.services import erasure, sealed, sweep
from personvern.services.retention import today
from personvern.services.sweep import Due
from personvern.web.pages import ConsoleRoute, render
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

SHOWN = 200  # rows of the plan on the page; the counts are of every subject due
ARCHIVE_PAGE = 50


def summary(v: Visit, limit: int = SHOWN) -> dict[str, Any]:
    """What the next run will do: counts of every subject due, the first `limit` of them, and sealed parts."""
    shown: list[Due] = []
    counts = {"archive": 0, "erase": 0, "erase_outside_hold": 0}
    for due in sweep.plan(v.ctx):
        if due.partial:
            counts["erase_outside_hold"] += 1
        elif due.step is Action.ARCHIVE:
            counts["archive"] += 1
        else:
            counts["erase"] += 1
        if len(shown) < limit:
            shown.append(due)
    parts = sealed.plan(v.ctx)
    total = sum(counts.values())
    return {"day": today(v.ctx), "shown": shown, "counts": counts, "total": total, "parts": parts}


@router.get("/retention")
def plan(request: Request, v: Seen) -> Response:
    return render(request, "retention.html", v, **summary(v), confirming=False, errors={}, result=None)


@router.get("/retention/run")
def confirm(request: Request, v: Seen) -> Response:
    return render(request, "retention.html", v, **summary(v), confirming=True, errors={}, result=None)


@router.post("/retention/run")
def run(request: Request, v: Posted, data: Form) -> Response:
    if text(data, "confirm") != "yes":
        # Archiving and erasure cannot be undone: nothing runs without the box ticked.
        errors = {"confirm": [v._("Tick the box to confirm; nothing was archived or erased.")]}
        return render(
            request, "retention.html", v, status=422, **summary(v), confirming=True, errors=errors, result=None
        )
    result = sweep.run(v.ctx)
    return render(request, "retention_done.html", v, result=result)


@router.get("/archive")
def archive(request: Request, v: Seen) -> Response:
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdecimal() and len(raw) < 9 else 0
    total, records = erasure.list_archive(v.ctx, ARCHIVE_PAGE, offset)
    return render(request, "archive.html", v, total=total, records=records, offset=offset, page=ARCHIVE_PAGE)


@router.get("/archive/{record_id}")
def archived(request: Request, v: Seen, record_id: str) -> Response:
    view = erasure.show_archived(v.ctx, record_id)
    return render(request, "archived.html", v, view=view, policy=v.ctx.policy)
