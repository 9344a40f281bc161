"""Every router of the API, in one list: the app factory includes them all under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from personvern.api import archive, audit, breaches, notice, policy, record, requests, retention, review, users
from personvern.api.errors import ERRORS

API_PREFIX = "/api/v1"

ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    requests.router,
    archive.router,
    retention.router,
    review.router,
    notice.router,
    record.router,
    breaches.router,
    audit.router,
    policy.router,
)


def include_all(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=ERRORS)
