"""Every router of the API, in one list: the app factory includes them all under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from personvern.api import (
    archive,
    audit,
    blocks,
    breaches,
    consents,
    exports,
    hooks,
    keys,
    marketing,
    notice,
    outbox,
    policy,
    processors,
    public,
    public_cookies,
    record,
    relationships,
    request_recipients,
    requests,
    retention,
    review,
    sms,
    statistics,
    subjects,
    tasks,
    users,
)
from personvern.api.errors import ERRORS

API_PREFIX = "/api/v1"

ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    subjects.router,
    relationships.router,
    consents.router,
    blocks.router,
    marketing.router,
    sms.router,
    outbox.router,
    requests.router,
    archive.router,
    retention.router,
    review.router,
    notice.router,
    record.router,
    breaches.router,
    audit.router,
    policy.router,
    tasks.router,
    request_recipients.router,
    exports.router,
    processors.router,
    statistics.router,
    keys.router,
    public.router,
    public_cookies.router,
)

# Called by others, at the paths they were given (LINK Mobility's callbacks): not under /api/v1, not a bearer token.
CALLBACKS: tuple[APIRouter, ...] = (hooks.router,)


def include_all(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=ERRORS)
    for router in CALLBACKS:
        app.include_router(router)
