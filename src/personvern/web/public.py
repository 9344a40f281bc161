"""The public privacy page (/personvern, /privacy): the notice in force, and the visitor's requests by one-time code.

Plain forms that work without JavaScript. The visitor signs in to nothing and the page sets no cookie: the
pending request's id in the address is what ties the code form to the request.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from personvern.connectors.wake import wake
from personvern.domain.errors import Conflict, InvalidInput, NotFound, PersonvernError, Throttled
from personvern.domain.requests import RequestType
from personvern.reports.package import answer_zip
from personvern.services import cookies, notices, public
from personvern.services.context import Context
from personvern.web.documents import body_of
from personvern.web.i18n import N_, gettext
from personvern.web.pages import problems_by_field, see_other
from personvern.web.public_pages import HOME, client_of, padded, render_public
from personvern.web.visit import runtime

router = APIRouter(include_in_schema=False)

# Each page in each language: the Norwegian paths are the company's own words, the English ones the same pages.
PATHS = {
    "nb": {
        "home": "/personvern",
        "ask": "/personvern/foresporsel",
        "answer": "/personvern/svar",
        "consent": "/personvern/samtykke",
    },
    "en": {"home": "/privacy", "ask": "/privacy/request", "answer": "/privacy/answer", "consent": "/privacy/consent"},
}
MAX_FORM = 20  # fields: a request form has at most a handful


async def _form(request: Request) -> dict[str, str]:
    data = await request.form(max_files=0, max_fields=MAX_FORM)
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def _alternates(kind: str, tail: str = "") -> dict[str, str]:
    return {lang: paths[kind] + tail for lang, paths in PATHS.items()}


# The services' refusals as a visitor reads them, in their language (the services word them for the API).
WORDS = {
    "this code is used up: ask for a new one on the privacy page": N_(
        "This code is used up. Ask for a new one on the privacy page."
    ),
    "the code has expired: ask for a new one on the privacy page": N_(
        "The code has expired. Ask for a new one on the privacy page."
    ),
    "there is no such request waiting for a code; ask again on the privacy page": N_(
        "There is no request waiting for this code. Ask again on the privacy page."
    ),
    "that was the last try: ask for a new code on the privacy page": N_(
        "That was the last try. Ask for a new code on the privacy page."
    ),
    "that was the last try: ask for a new code": N_("That was the last try. Ask for a new code."),
    "the answer was already fetched with this link; it works once. Contact us for a new one": N_(
        "The answer was already fetched with this link; it works once. Contact us for a new one."
    ),
    "this link has expired and the answer was deleted. Contact us for a new one": N_(
        "This link has expired and the answer was deleted. Contact us for a new one."
    ),
    "we can no longer send a code for this answer. Contact us for a new one": N_(
        "We can no longer send a code for this answer. Contact us for a new one."
    ),
    "ask for a code first: it goes to the number or address the request came from": N_(
        "Ask for a code first: it goes to the number or address the request came from."
    ),
    "the answer is no longer kept. Contact us for a new one": N_(
        "The answer is no longer kept. Contact us for a new one."
    ),
    "must be the 6 digits we sent you": N_("Type the six digits we sent you."),
}
BY_FIELD = {
    "contact": N_("Type a mobile number (such as 912 34 567) or an e-mail address, one of them."),
    "value": N_("That value does not fit the field you chose."),
    "field": N_("Choose what is wrong, and write what it should be."),
    "type": N_("Choose what you want."),
}
_TRIES = re.compile(r"^the code does not match; (\d+) tr")


def _words(lang: str, message: str) -> str:
    tries = _TRIES.match(message)
    if tries:
        return gettext(lang, "The code does not match. Tries left: %(left)s.", left=tries.group(1))
    known = WORDS.get(message)
    return gettext(lang, known) if known else message


def _problem(lang: str, exc: PersonvernError) -> str:
    """A refusal in the visitor's words."""
    if isinstance(exc, Throttled):
        minutes = max(1, exc.retry_after // 60)
        return gettext(lang, "Too many requests. Try again in %(minutes)s minutes.", minutes=minutes)
    return _words(lang, str(exc))


# ---------------------------------------------------------------- the page


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(HOME["nb"], status_code=307)


def _home(request: Request, lang: str, *, status: int = 200, **values: Any) -> Response:
    rt = runtime(request)
    ctx = rt.context()
    rendered = notices.render(ctx, lang, "html")
    policy = ctx.policy
    defaults: dict[str, Any] = {"errors": {}, "given": {"type": "access", "contact": "", "field": "", "value": ""}}
    return render_public(
        request,
        "public/home.html",
        lang,
        status=status,
        alternates=_alternates("home"),
        paths=PATHS[lang],
        notice=Markup(body_of(rendered.notice.text)),
        notice_sha256=rendered.notice.sha256,
        policy_version=policy.version,
        contact=policy.controller,
        privacy_contact=policy.privacy_contact,
        types=[t.value for t in RequestType],
        fields={name: spec for name, spec in policy.fields.items()},
        cookies=_cookies(ctx, lang),
        **{**defaults, **values},
    )


def _cookies(ctx: Context, lang: str) -> cookies.Banner | None:
    """The website's cookie categories (the policy's [cookies]); None when the policy declares none."""
    try:
        return cookies.banner(ctx, lang)
    except NotFound:
        return None


@router.get("/personvern")
def home_nb(request: Request) -> Response:
    return _home(request, "nb")


@router.get("/privacy")
def home_en(request: Request) -> Response:
    return _home(request, "en")


# ---------------------------------------------------------------- making a request


def _contact(given: str) -> dict[str, str | None]:
    """One box for either: an address has an @, anything else is read as a mobile number."""
    return {"email": given, "phone": None} if "@" in given else {"email": None, "phone": given or None}


async def _ask(request: Request, lang: str) -> Response:
    given = await _form(request)
    rt = runtime(request)
    kind = given.get("type", "")
    changes = {given["field"]: given.get("value", "")} if kind == "rectification" and given.get("field") else None
    if kind == "rectification" and changes is None:
        changes = {}
    try:
        asked = await padded(
            lambda: public.ask(
                rt.context(),
                kind,
                language=lang,
                client=client_of(request),
                changes=changes,
                **_contact(given.get("contact", "")),
            )
        )
    except InvalidInput as exc:
        by_field = problems_by_field(exc, {"email": "contact", "phone": "contact", "set": "field"})
        # One plain sentence per form field, whatever the rule behind it (the API names the rule).
        named = {name if name in BY_FIELD else "value" for name in by_field}
        shown = {name: [gettext(lang, BY_FIELD[name])] for name in sorted(named)}
        return _home(request, lang, status=422, errors=shown, given={**_blank(), **given})
    except Throttled as exc:
        return _home(request, lang, status=429, errors={"contact": [_problem(lang, exc)]}, given={**_blank(), **given})
    wake(rt.settings)
    return see_other(f"{PATHS[lang]['ask']}/{asked.pending_id}?via={asked.via.value}")


def _blank() -> dict[str, str]:
    return {"type": "access", "contact": "", "field": "", "value": ""}


@router.post("/personvern/foresporsel")
async def ask_nb(request: Request) -> Response:
    return await _ask(request, "nb")


@router.post("/privacy/request")
async def ask_en(request: Request) -> Response:
    return await _ask(request, "en")


def _code_page(
    request: Request, lang: str, pending_id: str, *, status: int = 200, error: str | None = None
) -> Response:
    via = request.query_params.get("via", "")
    return render_public(
        request,
        "public/code.html",
        lang,
        status=status,
        alternates=_alternates("ask", f"/{pending_id}"),
        paths=PATHS[lang],
        action=f"{PATHS[lang]['ask']}/{pending_id}",
        via=via if via in ("sms", "email") else "",
        error=error,
    )


@router.get("/personvern/foresporsel/{pending_id}")
def code_nb(request: Request, pending_id: str) -> Response:
    return _code_page(request, "nb", pending_id)


@router.get("/privacy/request/{pending_id}")
def code_en(request: Request, pending_id: str) -> Response:
    return _code_page(request, "en", pending_id)


async def _confirm(request: Request, lang: str, pending_id: str) -> Response:
    given = await _form(request)
    rt = runtime(request)
    try:
        done = await padded(lambda: public.confirm(rt.context(), pending_id, given.get("code", ""), client_of(request)))
    except InvalidInput as exc:
        messages = [_words(lang, p.message) for p in exc.problems]
        return _code_page(request, lang, pending_id, status=422, error=" ".join(messages))
    except (Conflict, NotFound, Throttled) as exc:
        return _code_page(request, lang, pending_id, status=exc.http_status, error=_problem(lang, exc))
    wake(rt.settings)
    return render_public(
        request,
        "public/receipt.html",
        lang,
        alternates=_alternates("home"),
        paths=PATHS[lang],
        done=done,
    )


@router.post("/personvern/foresporsel/{pending_id}")
async def confirm_nb(request: Request, pending_id: str) -> Response:
    return await _confirm(request, "nb", pending_id)


@router.post("/privacy/request/{pending_id}")
async def confirm_en(request: Request, pending_id: str) -> Response:
    return await _confirm(request, "en", pending_id)


# ---------------------------------------------------------------- the consent link, sent on request


async def _consent_link(request: Request, lang: str) -> Response:
    given = await _form(request)
    rt = runtime(request)
    try:
        via = await padded(
            lambda: public.send_consent_link(
                rt.context(), language=lang, client=client_of(request), **_contact(given.get("contact", ""))
            )
        )
    except InvalidInput:
        errors = {"consent_contact": [gettext(lang, BY_FIELD["contact"])]}
        return _home(request, lang, status=422, errors=errors, given={**_blank(), **given, "consent": given})
    except Throttled as exc:
        errors = {"consent_contact": [_problem(lang, exc)]}
        return _home(request, lang, status=429, errors=errors, given={**_blank(), **given, "consent": given})
    wake(rt.settings)
    return render_public(
        request,
        "public/consent_sent.html",
        lang,
        alternates=_alternates("home"),
        paths=PATHS[lang],
        via=via.value,
    )


@router.post("/personvern/samtykke")
async def consent_link_nb(request: Request) -> Response:
    return await _consent_link(request, "nb")


@router.post("/privacy/consent")
async def consent_link_en(request: Request) -> Response:
    return await _consent_link(request, "en")


# ---------------------------------------------------------------- fetching the answer


def _answer_page(request: Request, lang: str, token: str, *, status: int = 200, error: str | None = None) -> Response:
    rt = runtime(request)
    try:
        view = public.answer_link(rt.context(), token)
    except NotFound:
        view = None
        status = 404
    return render_public(
        request,
        "public/answer.html",
        lang,
        status=status,
        alternates=_alternates("answer", f"/{token}"),
        paths=PATHS[lang],
        view=view,
        action=f"{PATHS[lang]['answer']}/{token}",
        error=error,
        sent=view is not None and view.code_sent,
    )


@router.get("/personvern/svar/{token}")
def answer_nb(request: Request, token: str) -> Response:
    return _answer_page(request, "nb", token)


@router.get("/privacy/answer/{token}")
def answer_en(request: Request, token: str) -> Response:
    return _answer_page(request, "en", token)


async def _send_code(request: Request, lang: str, token: str) -> Response:
    rt = runtime(request)
    try:
        await run_in_threadpool(lambda: public.send_answer_code(rt.context(), token, client_of(request)))
    except (Conflict, NotFound, Throttled) as exc:
        return _answer_page(request, lang, token, status=exc.http_status, error=_problem(lang, exc))
    wake(rt.settings)
    return see_other(f"{PATHS[lang]['answer']}/{token}")


@router.post("/personvern/svar/{token}/kode")
async def send_code_nb(request: Request, token: str) -> Response:
    return await _send_code(request, "nb", token)


@router.post("/privacy/answer/{token}/code")
async def send_code_en(request: Request, token: str) -> Response:
    return await _send_code(request, "en", token)


async def _fetch(request: Request, lang: str, token: str) -> Response:
    given = await _form(request)
    rt = runtime(request)
    try:
        fetched = await run_in_threadpool(
            lambda: public.fetch_answer(rt.context(), token, given.get("code", ""), client_of(request))
        )
    except InvalidInput as exc:
        messages = [_words(lang, p.message) for p in exc.problems]
        return _answer_page(request, lang, token, status=422, error=" ".join(messages))
    except (Conflict, NotFound, Throttled) as exc:
        return _answer_page(request, lang, token, status=exc.http_status, error=_problem(lang, exc))
    blob = answer_zip(fetched.files)
    name = f"answer-{fetched.request_id[-8:]}.zip"
    return Response(
        blob,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/personvern/svar/{token}/hent")
async def fetch_nb(request: Request, token: str) -> Response:
    return await _fetch(request, "nb", token)


@router.post("/privacy/answer/{token}/fetch")
async def fetch_en(request: Request, token: str) -> Response:
    return await _fetch(request, "en", token)
