"""Rendering the console's pages (Jinja2, autoescaped, one environment per language) and its refusals in words."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.exceptions import HTTPException

from personvern import __version__
from personvern.bootstrap import demo_sink_on
from personvern.domain.access import PHRASES, Permission
from personvern.domain.errors import (
    ClockMoved,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    NotReady,
    PersonvernError,
    Throttled,
)
from personvern.reports.environment import capitalised
from personvern.store.engine import retryable
from personvern.web import labels
from personvern.web.i18n import N_, NAMES, Formats, gettext, language, translations
from personvern.web.visit import (
    PASSWORD_PATH,
    PREFIX,
    SESSION_COOKIE,
    CsrfRefused,
    PasswordChangeNeeded,
    SignInNeeded,
    Visit,
    clear_cookie,
    runtime,
)

log = logging.getLogger("personvern.web")

SIGN_IN_PATH = f"{PREFIX}/sign-in"
_REFUSAL = re.compile(r"^role '(?P<role>[a-z]+)' may not (?P<what>.+)$")


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("personvern.web", "templates"),
        autoescape=True,  # every value is escaped: names and reasons are whatever people typed
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        version=__version__,
        prefix=PREFIX,
        languages=NAMES,
        P=Permission,
        L=labels,
        role_names=labels.ROLES,
        breach_clock=labels.breach_clock,
        cap=capitalised,
        languages_named=NAMES,
        demo_sink=demo_sink_on,  # read at each page: the nav shows the demo sink's page only while it is on
    )
    env.filters["dict_without"] = lambda d, *keys: {k: x for k, x in d.items() if k not in keys}
    return env


def render(
    request: Request,
    template: str,
    visit: Visit | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    lang = visit.lang if visit is not None else language(getattr(request.state, "lang", None))
    zone = runtime(request).policy.policy.controller.timezone
    html = (
        environment(lang)
        .get_template(template)
        .render(
            lang=lang,
            v=visit,
            fmt=Formats(lang, zone),
            path=request.url.path,
            controller=runtime(request).policy.policy.controller.name,
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def see_other(url: str) -> RedirectResponse:
    """After a form: the browser fetches the next page with GET, so reloading it never posts twice."""
    return RedirectResponse(url, status_code=303)


def problems_by_field(exc: InvalidInput, aliases: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Each problem under the form field it belongs to ('-' and '_' are one), so the page shows it beside it."""
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        name = p.field.replace("-", "_")
        out.setdefault((aliases or {}).get(name, name), []).append(p.message)
    return out


def invalid_field(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldProblem(field, message)])


def instant(v: Visit, field: str, raw: str) -> datetime | None:
    """A date and time as typed in a form, on the controller's clock (what a datetime-local input sends)."""
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_field(field, v._("must be a date and time, e.g. 2026-05-04 10:00")) from None
    return at.replace(tzinfo=ZoneInfo(v.zone)) if at.tzinfo is None else at


def local_input(v: Visit, at: datetime | None) -> str:
    """An instant as a datetime-local input shows it, on the controller's clock."""
    return "" if at is None else at.astimezone(ZoneInfo(v.zone)).strftime("%Y-%m-%dT%H:%M")


def refusal(request: Request, exc: BaseException, visit: Visit | None = None) -> HTMLResponse:
    """The page for a refusal from the services (or the console's own): what happened, in words."""
    lang = visit.lang if visit is not None else language(getattr(request.state, "lang", None))
    headers: dict[str, str] = {}
    # A service's message passes through the catalogue: those it holds are said in the user's language.
    detail = gettext(lang, str(exc))
    if isinstance(exc, CsrfRefused):
        status, title = 403, N_("The form was refused")
        detail = gettext(
            lang,
            "The form came without the security code of the page it was on, or with an old one. "
            "Open the page again and send the form from there.",
        )
    elif isinstance(exc, Forbidden):
        status, title = 403, N_("You may not do this")
        found = _REFUSAL.match(str(exc))
        if found is not None and found["what"] in PHRASES.values():
            what = gettext(lang, found["what"])
            detail = gettext(lang, "Your role (%(role)s) may not %(what)s.", role=found["role"], what=what)
    elif isinstance(exc, ClockMoved):
        status, title = 403, N_("You may not do this")
    elif isinstance(exc, NotFound):
        status, title = 404, N_("Not found")
    elif isinstance(exc, Conflict):
        status, title = 409, N_("This cannot be done now")
    elif isinstance(exc, Throttled):
        status, title = 429, N_("Too many attempts")
        headers["Retry-After"] = str(exc.retry_after)
        detail = gettext(lang, "Too many attempts. Try again in %(seconds)s seconds.", seconds=exc.retry_after)
    elif isinstance(exc, NotReady):
        status, title = 503, N_("The register is not ready")
    elif isinstance(exc, InvalidInput):
        status, title = 422, N_("Something in the form is wrong")
    elif isinstance(exc, PersonvernError):
        status, title = 400, N_("The request was refused")
    elif retryable(exc):
        # A deadlock or serialization failure on PostgreSQL: rolled back whole, as the API's 503 says too.
        status, title = 503, N_("The register is busy")
        headers["Retry-After"] = "1"
        detail = gettext(lang, "Another change got in the way of this one, and nothing was changed. Send it again.")
    else:
        status, title = 500, N_("Something went wrong")
        detail = gettext(lang, "An internal error stopped the work; nothing was changed.")
    problems = exc.problems if isinstance(exc, InvalidInput) else []
    return render(
        request,
        "refusal.html",
        visit,
        status=status,
        headers=headers,
        title=title,
        detail=detail if not problems else "",
        problems=problems,
        status_code=status,
    )


def _sign_in(request: Request, ended: bool) -> Response:
    target = SIGN_IN_PATH
    query = []
    if request.method == "GET" and request.url.path.startswith(PREFIX + "/") and request.url.path != SIGN_IN_PATH:
        query.append("next=" + quote(request.url.path, safe="/"))
    if ended:
        query.append("ended=1")
    response = see_other(target + ("?" + "&".join(query) if query else ""))
    if ended:
        clear_cookie(request, response, SESSION_COOKIE)
    return response


class ConsoleRoute(APIRoute):
    """A console route: whatever the services refuse becomes a page in words, never a JSON error or a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded as exc:
                return _sign_in(request, exc.ended)
            except PasswordChangeNeeded:
                return see_other(PASSWORD_PATH)
            except (PersonvernError, ClockMoved, CsrfRefused) as exc:
                return refusal(request, exc)
            except RequestValidationError:
                return refusal(request, PersonvernError(N_("The address or the form is not valid.")))
            except HTTPException as exc:
                if exc.status_code == 404:
                    return refusal(request, NotFound(str(exc.detail)))
                return refusal(request, PersonvernError(str(exc.detail)))
            except Exception as exc:
                # Never the exception's text: it may hold a personal value. The type is enough to find it.
                log.error("internal error in the console: %s", type(exc).__name__)
                return refusal(request, exc)

        return guarded
