"""The console's front door and overview: sign-in, the first password, sign-out, my account, and the dashboard."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from personvern.domain.access import Permission
from personvern.domain.breaches import Status
from personvern.domain.errors import InvalidInput, Throttled, Unauthenticated
from personvern.services import (
    agreements,
    breaches,
    confirmations,
    outbox,
    reconcile,
    review,
    rights,
    sealed,
    sweep,
    users,
)
from personvern.web.i18n import LANGUAGES, N_, gettext, language
from personvern.web.pages import ConsoleRoute, invalid_field, problems_by_field, render, see_other
from personvern.web.visit import (
    LANGUAGE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    CsrfRefused,
    Form,
    Posted,
    PostedFirst,
    Seen,
    SeenFirst,
    clear_cookie,
    new_csrf,
    runtime,
    secure,
    set_cookie,
    text,
)

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

# What a page may say after a form sent the browser on (a key in the address, never a value someone typed).
SAID = {
    "signed_out": N_("You have signed out."),
    "password_changed": N_("Your password is changed."),
    "language_changed": N_("The language is changed."),
}
DASHBOARD_REQUESTS = 20
# A reconciliation's findings as the dashboard words them (domain/reconcile.py's Finding).
RECONCILE_WORDS = {
    "erased_here": N_("erased or archived here, still held there"),
    "never_shared": N_("never shared with HubSpot"),
    "basis_gone": N_("the purpose they were shared for no longer holds"),
    "not_in_register": N_("not in the register: check them there by hand"),
    "missing": N_("consented to marketing by e-mail, but not held there"),
}
DEAD_SHOWN = 10


def said(request: Request) -> str | None:
    key = request.query_params.get("said")
    return SAID.get(key) if key else None


def _next(target: str | None) -> str:
    """Where to go after signing in: a console page only, never another site (an open redirect)."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return PREFIX + "/"


# ---------------------------------------------------------------- signing in and out


def _language(request: Request) -> str:
    """The sign-in page's language: as asked in the address, else the last user's on this browser, else nb."""
    return language(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))


def _sign_in_page(
    request: Request, status: int = 200, error: str | None = None, name: str = "", headers: dict[str, str] | None = None
) -> HTMLResponse:
    lang = _language(request)
    request.state.lang = lang
    token = new_csrf()
    ended = request.query_params.get("ended") == "1"
    response = render(
        request,
        "sign_in.html",
        status=status,
        insecure=_insecure(request),
        headers=headers,
        token=token,
        error=error,
        name=name,
        ended=ended,
        said=said(request),
        next=_next(request.query_params.get("next")),
        other=[code for code in LANGUAGES if code != lang],
    )
    set_cookie(request, response, SIGNIN_COOKIE, token)
    return response


def _insecure(request: Request) -> bool:
    """Plain HTTP to an address beyond this machine: the browser would never send the Secure cookie back."""
    return secure(request) and request.url.scheme != "https"


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    rt = runtime(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            users.session(rt.uow, rt.clock, token)
        except Unauthenticated:
            pass
        else:
            return see_other(PREFIX + "/")
    return _sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, data: Form) -> Response:
    # Before there is a session, the form's token is checked against a cookie of its own (a cross-site form
    # carries neither: the cookie is SameSite=Strict).
    if _insecure(request):
        return _sign_in_page(request, 403)
    expected = request.cookies.get(SIGNIN_COOKIE) or ""
    given = text(data, "csrf")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused()
    lang = _language(request)
    request.state.lang = lang
    name = text(data, "name").lower()
    password = data.get("password")
    rt = runtime(request)
    client = request.client.host if request.client else "unknown"
    try:
        signed = users.sign_in(rt.uow, rt.clock, name, password if isinstance(password, str) else "", client)
    except Throttled as exc:
        message = gettext(lang, "Too many failed sign-ins. Try again in %(seconds)s seconds.", seconds=exc.retry_after)
        return _sign_in_page(request, 429, message, name, {"Retry-After": str(exc.retry_after)})
    except Unauthenticated:
        return _sign_in_page(request, 401, gettext(lang, "The user name or the password is wrong."), name)
    target = PREFIX + "/password" if signed.user.must_change_password else _next(text(data, "next"))
    response = see_other(target)
    set_cookie(request, response, SESSION_COOKIE, signed.session_token)
    set_cookie(request, response, LANGUAGE_COOKIE, language(signed.user.language))
    clear_cookie(request, response, SIGNIN_COOKIE)
    return response


@router.post("/sign-out")
def sign_out(request: Request, v: PostedFirst) -> Response:
    rt = runtime(request)
    users.sign_out(rt.uow, rt.clock, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other(f"{PREFIX}/sign-in?said=signed_out")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


# ---------------------------------------------------------------- passwords and the user's own settings


@router.get("/password")
def password_form(request: Request, v: SeenFirst) -> Response:
    return render(request, "password.html", v, errors={})


@router.post("/password")
def change_password(request: Request, v: PostedFirst, data: Form) -> Response:
    rt = runtime(request)
    current, new, again = (data.get(n) for n in ("current_password", "new_password", "new_password_again"))
    try:
        if not isinstance(new, str) or not isinstance(current, str) or not isinstance(again, str):
            raise invalid_field("new_password", v._("Fill in every field."))
        if new != again:
            raise invalid_field("new_password_again", v._("The two new passwords differ."))
        users.change_password(rt.uow, rt.clock, v.user, current, new)
    except InvalidInput as exc:
        errors = problems_by_field(exc, {"password": "new_password"})
        return render(request, "password.html", v, status=422, errors=errors)
    return see_other(f"{PREFIX}/?said=password_changed")


@router.get("/account")
def account(request: Request, v: Seen) -> Response:
    return render(request, "account.html", v, errors={}, said=said(request))


@router.post("/account")
def set_language(request: Request, v: Posted, data: Form) -> Response:
    rt = runtime(request)
    try:
        changed = users.set_language(rt.uow, rt.clock, v.user, text(data, "language"))
    except InvalidInput as exc:
        return render(request, "account.html", v, status=422, errors=problems_by_field(exc), said=None)
    response = see_other(f"{PREFIX}/account?said=language_changed")
    set_cookie(request, response, LANGUAGE_COOKIE, language(changed.language))
    return response


# ---------------------------------------------------------------- the overview


@router.get("/")
def dashboard(request: Request, v: Seen) -> Response:
    ctx = v.ctx
    now = ctx.clock.now()
    panels: dict[str, Any] = {}
    if v.may(Permission.REQUEST_HANDLE):
        today, found = rights.list_requests(ctx, limit=DASHBOARD_REQUESTS + 1)
        panels["requests"] = {
            "today": today,
            "items": found[:DASHBOARD_REQUESTS],
            "more": len(found) > DASHBOARD_REQUESTS,
        }
    if v.may(Permission.BREACH_MANAGE):
        open_ = [
            b for b in breaches.list_breaches(ctx) if b.status(now) in (Status.DUE, Status.OVERDUE, Status.NOTIFIED)
        ]
        panels["breaches"] = {"now": now, "items": open_}
    if v.may(Permission.REQUEST_HANDLE):
        # The CEO's tasks for recipients without a connector (Finago, the auditor) and for deliveries given up
        # on (Art. 17(2), 19): a request completes only when each is confirmed (issue 15).
        _, tasks = confirmations.list_tasks(ctx, limit=DASHBOARD_REQUESTS + 1)
        panels["tasks"] = {"items": tasks[:DASHBOARD_REQUESTS], "more": len(tasks) > DASHBOARD_REQUESTS}
    if v.may(Permission.RETENTION_RUN):
        # Counts only: the plan itself (`retention plan`) is audited as a read each time it is made. The worker's
        # sweep waits for the CEO above the policy's [unattended] limit and before the first run (issue 16).
        # (`unattended` counts today's due subjects itself: its count is the panel's.)
        waits = sweep.unattended(ctx)
        panels["retention"] = {"due": waits.due, "parts": len(sealed.plan(ctx)), "unattended": waits}
    if v.may(Permission.PROCESSORS_RECONCILE):
        panels["hubspot"] = {"run": reconcile.last_run(ctx), "words": RECONCILE_WORDS}
    if v.may(Permission.RECORD_READ):
        # Art. 28(3): a processor without an agreement, past its review, or due within a month.
        due = agreements.agreements_due(ctx)
        if due:
            panels["agreements"] = due
    if v.may(Permission.OUTBOX_READ):
        panels["dead"] = outbox.list_outbox(ctx, dead_only=True, limit=DEAD_SHOWN, failed_only=True)
    if v.may(Permission.REVIEW_SIGN):
        panels["review"] = review.unsigned_year(ctx)
    return render(request, "dashboard.html", v, panels=panels, said=said(request), now=now)
