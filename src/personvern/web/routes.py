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
    cookie_banner,
    customer_actions,
    demo_messages,
    documents,
    exports,
    outbox,
    public,
    retention,
    review,
    rights,
    selfservice,
    sms,
    statistics,
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
    demo_messages.router,
    review.router,
    statistics.router,
    audit.router,
    cookie_banner.router,
    selfservice.router,  # public: the consent page a marketing message's personal link opens
    public.router,  # public: /personvern, /privacy and / leading there; requests by one-time code
)

# Last: any other address under /console/ is a 404 page in words, once signed in (no probing of what exists).
fallback = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@fallback.get("/{rest:path}")
def not_found(request: Request, v: Seen, rest: str) -> Response:
    return refusal(request, NotFound(v._("There is no such page in the console.")), v)


def install(app: FastAPI) -> None:
    """The console's pages under /console/, the public pages, and the style sheets and scripts under /static/."""
    for router in (*ROUTERS, fallback):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get(PREFIX, include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308)
