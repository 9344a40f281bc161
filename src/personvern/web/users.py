"""Staff users in the console (the CEO's): list, add, disable, a new token, a new first password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from personvern.domain.access import STAFF_ROLES
from personvern.domain.errors import Conflict, InvalidInput
from personvern.services import users
from personvern.services.users import Issued
from personvern.web.i18n import LANGUAGES, N_
from personvern.web.pages import ConsoleRoute, problems_by_field, render, see_other
from personvern.web.visit import PREFIX, Form, Posted, Seen, Visit, text

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

SAID = {"disabled": N_("The user is disabled: they can no longer sign in, and their sessions have ended.")}


def _listing(
    request: Request, v: Visit, status: int = 200, errors: dict[str, list[str]] | None = None, **given: str
) -> Response:
    return render(
        request,
        "users.html",
        v,
        status=status,
        found=users.list_users(v.ctx),
        roles=list(STAFF_ROLES),
        user_languages=LANGUAGES,
        errors=errors or {},
        given=given or {"name": "", "role": "staff", "language": "nb"},
        said=SAID.get(request.query_params.get("said", "")),
    )


@router.get("/users")
def listing(request: Request, v: Seen) -> Response:
    return _listing(request, v)


def _issued(request: Request, v: Visit, issued: Issued, what: str) -> Response:
    """The token or password, shown once on this page and never again (only hashes are stored)."""
    return render(request, "user_issued.html", v, issued=issued, what=what)


@router.post("/users")
def add(request: Request, v: Posted, data: Form) -> Response:
    given = {name: text(data, name) for name in ("name", "role", "language")}
    try:
        issued = users.add_user(v.ctx, given["name"], given["role"], given["language"] or "nb")
    except InvalidInput as exc:
        return _listing(request, v, 422, problems_by_field(exc), **given)
    except Conflict as exc:
        return _listing(request, v, 409, {"name": [str(exc)]}, **given)
    return _issued(request, v, issued, "added")


@router.post("/users/{name}/disable")
def disable(request: Request, v: Posted, name: str) -> Response:
    users.disable_user(v.ctx, name)
    return see_other(f"{PREFIX}/users?said=disabled")


@router.post("/users/{name}/token")
def token(request: Request, v: Posted, name: str) -> Response:
    return _issued(request, v, users.new_token(v.ctx, name), "token")


@router.post("/users/{name}/password")
def password(request: Request, v: Posted, name: str) -> Response:
    return _issued(request, v, users.reset_password(v.ctx, name), "password")
