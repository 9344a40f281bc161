"""Every router of the console in one list, and how the app factory takes them in with the style sheet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from personvern.domain.errors import NotFound
from personvern.web import (
    audit,
    breaches,
    console,
    customer_actions,
    documents,
    exports,
    outbox,
    retention,
    review,
    rights,
    sms,
    subjects,
    users,
)
from personvern.web.pages import ConsoleRoute, refusal
from personvern.web.visit import PREFIX, Seen

STATIC = Path(__file__).parent / "static"

ROUTERS: tuple[APIRouter, ...] = (
    console.router,
    subjects.router,
    rights.router,
    retention.router,
    breaches.router,
    documents.router,
    exports.router,
    users.router,
    customer_actions.router,
    sms.router,
    outbox.router,
    review.router,
    audit.router,
)

# Last: any other address under /console/ is a 404 page in words, once signed in (no probing of what exists).
fallback = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@fallback.get("/{rest:path}")
def not_found(request: Request, v: Seen, rest: str) -> Response:
    return refusal(request, NotFound(v._("There is no such page in the console.")), v)


def install(app: FastAPI) -> None:
    """The console's pages under /console/, its style sheet under /static/, and / leading to the console."""
    for router in (*ROUTERS, fallback):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        # The public privacy page takes / later; until then it leads to the console.
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.get(PREFIX, include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308)
