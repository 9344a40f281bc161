"""The one error shape of the HTTP API, mapped once from the domain's exception tree (DESIGN.md §4b)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from personvern.domain.errors import (
    ClockMoved,
    Conflict,
    Forbidden,
    IntegrityBroken,
    InvalidInput,
    Malformed,
    NotFound,
    NotReady,
    PersonvernError,
    PolicyRejected,
    Throttled,
    Unauthenticated,
)
from personvern.policy.loader import PolicyInvalid
from personvern.store.engine import retryable

log = logging.getLogger("personvern.api")

# The most specific class first; every PersonvernError has a code, the base class "bad_request".
CODES: tuple[tuple[type[BaseException], str], ...] = (
    (Malformed, "bad_request"),
    (InvalidInput, "invalid_input"),
    (NotFound, "not_found"),
    (Conflict, "conflict"),
    (Forbidden, "forbidden"),
    (IntegrityBroken, "integrity_broken"),
    (PolicyRejected, "policy_rejected"),
    (NotReady, "not_ready"),
    (Unauthenticated, "unauthenticated"),
    (Throttled, "too_many_requests"),
    (ClockMoved, "clock_moved"),
    (PersonvernError, "bad_request"),
)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


class Problem(BaseModel):
    line: int | None = None
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    problems: list[Problem] | None = None  # every bad value, when there are several (an import, a form)


class ErrorBody(BaseModel):
    """Every error the API answers: `{"error": {"code", "message", "field"}}`."""

    error: ErrorDetail


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Declared on every router, so /openapi.json documents each route's errors.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed request"),
    401: _doc("No credentials, or wrong ones"),
    403: _doc("The signed-in role may not do this"),
    404: _doc("Not found"),
    409: _doc("Conflicts with what is stored"),
    422: _doc("Invalid input: the field and the rule it breaks"),
    429: _doc("Too many requests; see Retry-After"),
    503: _doc("The database is not ready, or a conflicting change made it give up this one: try again"),
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field, problems=problems))
    data = body.model_dump()
    if problems is None:
        del data["error"]["problems"]  # the contract's three keys; `problems` only where there are several
    return JSONResponse(data, status_code=status, headers=headers)


def from_exception(exc: BaseException) -> JSONResponse:
    """The response for a domain exception (or an unexpected one: 500, with no details)."""
    if isinstance(exc, PolicyInvalid):
        problems = [Problem(field="policy", message=str(p)) for p in exc.problems]
        return error_response(422, "policy_rejected", "the policy file has problems", "policy", problems)
    code = next((c for cls, c in CODES if isinstance(exc, cls)), None)
    if retryable(exc):
        log.warning(
            "transaction given up by the database (%s); answered 503",
            getattr(getattr(exc, "orig", None), "sqlstate", ""),
        )
        message = "the database gave this change up for a conflicting one; nothing was changed: try again"
        return error_response(503, "busy", message, headers={"Retry-After": "1"})
    if code is None:
        # Never the exception's text: it may hold a value. The type is enough to find it in the code.
        log.error("internal error: %s", type(exc).__name__)
        return error_response(500, "internal_error", "internal error; nothing was changed")
    status = getattr(exc, "http_status", 400)
    headers: dict[str, str] = {}
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, InvalidInput):
        problems = [Problem(line=p.line, field=p.field, message=p.message) for p in exc.problems]
        first = exc.problems[0] if exc.problems else None
        # One problem: its own words, with its line when it has one (an import's line 7 says so).
        message = str(first) if len(exc.problems) == 1 and first is not None else str(exc)
        several = len(problems) > 1 or (first is not None and first.line is not None)
        return error_response(status, code, message, first.field if first else None, problems if several else None)
    return error_response(status, code, str(exc), headers=headers or None)


def _loc_field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "values", "email") -> "values.email"; the transport part (body, query, path) is dropped.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in {"body", "query", "path", "header", "form"} else list(loc)
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "body")


def install(app: FastAPI) -> None:
    @app.exception_handler(PersonvernError)
    async def _domain(_request: Request, exc: PersonvernError) -> JSONResponse:
        return from_exception(exc)

    @app.exception_handler(ClockMoved)
    async def _clock(_request: Request, exc: ClockMoved) -> JSONResponse:
        return from_exception(exc)

    @app.exception_handler(PolicyInvalid)
    async def _policy(_request: Request, exc: PolicyInvalid) -> JSONResponse:
        return from_exception(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # pydantic's messages name the rule, never echo the value (the value may be personal data).
        problems = [
            Problem(field=_loc_field(e.get("loc", ())), message=str(e.get("msg", "invalid"))) for e in exc.errors()
        ]
        first = problems[0] if problems else Problem(field="body", message="invalid")
        several = problems if len(problems) > 1 else None
        return error_response(422, "invalid_input", f"{first.field}: {first.message}", first.field, several)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        return from_exception(exc)
