"""The outbox in the console: rows waiting or given up on, with their errors (never a personal part), and retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from personvern.domain.access import Permission
from personvern.domain.errors import Conflict, Forbidden, NotFound
from personvern.services import outbox
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, render, see_other
from personvern.web.visit import PREFIX, Posted, Seen, Visit

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE = 100
STATES = {
    "pending": N_("waiting"),
    "delivered": N_("delivered"),
    "dead": N_("given up on"),
}
SHOWN = {"open": N_("Waiting and given up on"), "dead": N_("Only those given up on"), "all": N_("Every row")}
SAID = {"retried": N_("The row is waiting again, with a fresh count of attempts; the outbox worker sends it.")}


def _listing(request: Request, v: Visit, *, status: int = 200, problem: str | None = None) -> Response:
    q = request.query_params
    shown = q.get("show", "open")
    shown = shown if shown in SHOWN else "open"
    raw = q.get("offset", "0")
    offset = int(raw) if raw.isdecimal() and len(raw) < 9 else 0
    found = outbox.list_outbox(v.ctx, dead_only=shown == "dead", everything=shown == "all", limit=PAGE, offset=offset)
    values: dict[str, Any] = {"found": found, "shown": shown, "choices": SHOWN, "offset": offset, "page": PAGE}
    said = SAID.get(q.get("said", "")) if status == 200 else None
    return render(request, "outbox.html", v, status=status, states=STATES, problem=problem, said=said, **values)


@router.get("/outbox")
def listing(request: Request, v: Seen) -> Response:
    return _listing(request, v)


@router.post("/outbox/{row_id}/retry")
def retry(request: Request, v: Posted, row_id: str) -> Response:
    """A dead row back in the queue once its cause is fixed; one its person's rules no longer allow stays dead."""
    try:
        outbox.retry_dead(v.ctx, row_id)
    except Forbidden as exc:
        if not v.may(Permission.OUTBOX_MANAGE):
            raise
        return _listing(request, v, status=403, problem=str(exc))
    except Conflict as exc:
        return _listing(request, v, status=409, problem=str(exc))
    except NotFound as exc:
        return _listing(request, v, status=404, problem=str(exc))
    return see_other(f"{PREFIX}/outbox?said=retried")
