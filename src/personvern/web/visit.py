"""Who is using the console: the session cookie, the signed-in user as the services' actor, and CSRF checks."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from personvern.bootstrap import Runtime
from personvern.domain.access import Actor, Permission
from personvern.domain.errors import Unauthenticated
from personvern.domain.users import Session, User
from personvern.services import users
from personvern.services.context import Context
from personvern.web.i18n import Formats, gettext, language

PREFIX = "/console"
SESSION_COOKIE = "pv_session"
SIGNIN_COOKIE = "pv_signin"  # the sign-in form's own CSRF token, before there is a session to hold one
LANGUAGE_COOKIE = "pv_lang"  # the last signed-in user's language, for the sign-in page after a session ends
PASSWORD_PATH = f"{PREFIX}/password"
SIGN_OUT_PATH = f"{PREFIX}/sign-out"


class SignInNeeded(Exception):
    """No session, or one that ended: the visitor is sent to the sign-in page."""

    def __init__(self, ended: bool) -> None:
        super().__init__("sign in")
        self.ended = ended


class PasswordChangeNeeded(Exception):
    """A first password (or one the CEO reset) must be changed before anything else."""


class CsrfRefused(Exception):
    """A form came without the token its page carried: possibly sent from another site (refused, 403)."""


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure(request: Request) -> bool:
    """Cookies only over HTTPS, except on this machine's loopback (a browser on the same host).

    The scheme is what uvicorn made of the connection, with --proxy-headers from the proxy's
    X-Forwarded-Proto (and only from the addresses it was told to trust); never a header read here.
    """
    return request.url.scheme == "https" or not loopback(request.url.hostname)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    # A session cookie (no Max-Age): the server ends the session; the browser forgets it when it closes.
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure(request), path="/")


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, httponly=True, samesite="strict", secure=secure(request), path="/")


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Visit:
    """One signed-in request: the user, their session, and the services' context with them as the actor."""

    user: User
    session: Session
    ctx: Context
    zone: str

    @property
    def lang(self) -> str:
        return language(self.user.language)

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def fmt(self) -> Formats:
        return Formats(self.lang, self.zone)

    def may(self, permission: Permission) -> bool:
        """Whether to offer a page or a panel; the services still decide every use (domain/access.py)."""
        return self.ctx.actor.may(permission)

    def _(self, message: str, **values: object) -> str:
        return gettext(self.lang, message, **values)


def context_for(rt: Runtime, user: User) -> Context:
    """The services' context with the signed-in user as the actor: the audit chain records who did what."""
    return replace(rt.context(), actor=Actor(user.actor_name, user.role))


def _visit(request: Request, allow_first_password: bool) -> Visit:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded(ended=False)
    rt = runtime(request)
    try:
        user, found = users.session(rt.uow, rt.clock, token)
    except Unauthenticated:
        raise SignInNeeded(ended=True) from None
    request.state.lang = language(user.language)
    if user.must_change_password and not allow_first_password:
        raise PasswordChangeNeeded()
    return Visit(user, found, context_for(rt, user), rt.policy.policy.controller.timezone)


async def form(request: Request) -> FormData:
    """The posted form, read once per request (FastAPI caches a dependency's value within a request)."""
    return await request.form(max_files=0, max_fields=200)


def _checked(visit: Visit, data: FormData) -> Visit:
    given = data.get("csrf")
    if not users.csrf_ok(visit.session, given if isinstance(given, str) else None):
        raise CsrfRefused()
    return visit


def visit(request: Request) -> Visit:
    return _visit(request, allow_first_password=False)


def visit_first(request: Request) -> Visit:
    return _visit(request, allow_first_password=True)


def posted(request: Request, data: Annotated[FormData, Depends(form)]) -> Visit:
    return _checked(_visit(request, allow_first_password=False), data)


def posted_first(request: Request, data: Annotated[FormData, Depends(form)]) -> Visit:
    return _checked(_visit(request, allow_first_password=True), data)


Seen = Annotated[Visit, Depends(visit)]  # a page: signed in, password changed
SeenFirst = Annotated[Visit, Depends(visit_first)]  # the password page itself, before the first change
Posted = Annotated[Visit, Depends(posted)]  # a form: signed in, and its CSRF token matches the session's
PostedFirst = Annotated[Visit, Depends(posted_first)]
Form = Annotated[FormData, Depends(form)]


def text(data: FormData, name: str) -> str:
    """One text field of a form, trimmed; a missing field is empty."""
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(data: FormData, name: str) -> str | None:
    return text(data, name) or None
