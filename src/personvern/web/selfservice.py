"""The personal consent page a marketing message links to: see and change consent per channel, object, get receipts.

No sign-in: the link's token is the proof (domain/links.py). Forms work without JavaScript and carry a hidden
key derived from the token, so a form on another site cannot change anyone's consent (it cannot know it).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from personvern.domain.errors import InvalidInput, NotFound
from personvern.domain.links import PATHS, LinkExpired
from personvern.services import selfservice
from personvern.services.context import Context
from personvern.web.i18n import N_, gettext
from personvern.web.public_pages import render_public
from personvern.web.visit import runtime

router = APIRouter(include_in_schema=False)

TEMPLATE = "public/consent.html"
# The page is one person's own: search engines must not keep it, even if a link leaks (the template says so
# too, in the page's head where the frame gives it one).
HEADERS = {"X-Robots-Tag": "noindex, nofollow"}
CHANNELS = {"sms": N_("SMS"), "email": N_("e-mail")}
DONE = {
    "given": N_("Thank you: your consent to marketing by %(channel)s is recorded."),
    "withdrawn": N_("Your consent to marketing by %(channel)s is withdrawn. We send you no more marketing that way."),
    "objected": N_("Your objection is recorded. We send you no marketing at all."),
    "unchanged": N_("Nothing needed changing: your choice was recorded already."),
}
_EVENT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _ctx(request: Request) -> Context:
    return replace(runtime(request).context(), actor=selfservice.ACTOR)


def _address(lang: str, token: str) -> str:
    return f"{PATHS[lang]}/{token}"


def _alternates(token: str) -> dict[str, str]:
    return {lang: _address(lang, token) for lang in PATHS}


def _gone(request: Request, lang: str, exc: NotFound, token: str) -> Response:
    """The same calm page for a link that expired and one that never was ours (or was changed on the way)."""
    return render_public(
        request,
        TEMPLATE,
        lang,
        status=410 if isinstance(exc, LinkExpired) else 404,
        headers=HEADERS,
        alternates=_alternates(token),
        gone=True,
        view=None,
    )


def _show(
    request: Request, token: str, lang: str, said: str | None = None, problem: str | None = None, status: int = 200
) -> Response:
    ctx = _ctx(request)
    try:
        view = selfservice.page(ctx, token, lang)
    except NotFound as exc:
        return _gone(request, lang, exc, token)
    return render_public(
        request,
        TEMPLATE,
        lang,
        status=status,
        headers=HEADERS,
        alternates=_alternates(token),
        gone=False,
        view=view,
        token=token,
        action=_address(lang, token),
        form_token=selfservice.form_token(ctx, token),
        channel_names=CHANNELS,
        said=said,
        problem=problem,
    )


def _said(request: Request, lang: str) -> str | None:
    done = request.query_params.get("done")
    channel = request.query_params.get("channel")
    if done not in DONE:
        return None
    name = gettext(lang, CHANNELS[channel]) if channel in CHANNELS else ""
    return gettext(lang, DONE[done], channel=name)


async def _change(request: Request, token: str, lang: str) -> Response:
    form = await request.form()

    def given(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    ctx = _ctx(request)
    try:
        # First the link: an expired or unknown one gets its calm page, whatever the form holds.
        selfservice.open_link(ctx, token)
    except NotFound as exc:
        return _gone(request, lang, exc, token)
    if not selfservice.form_token_matches(ctx, token, given("form_token")):
        # A form from another site, or an old copy of the page: refused, and nothing is changed.
        problem = gettext(lang, "This form did not come from your page. Nothing was changed; try again here.")
        return _show(request, token, lang, problem=problem, status=403)
    channel = given("channel")
    try:
        outcome = selfservice.change(ctx, token, given("action") or "", channel, given("notice"))
    except NotFound as exc:
        return _gone(request, lang, exc, token)
    except InvalidInput:
        problem = gettext(lang, "That change could not be made. Nothing was changed; choose again below.")
        return _show(request, token, lang, problem=problem, status=422)
    query = f"?done={outcome.value}" + (f"&channel={channel}" if channel in CHANNELS else "")
    return RedirectResponse(_address(lang, token) + query, status_code=303)


def _receipt(request: Request, token: str, event_id: str, lang: str) -> Response:
    try:
        if not _EVENT_ID.fullmatch(event_id):
            raise NotFound("no such consent event")
        body: dict[str, Any] = selfservice.receipt(_ctx(request), token, event_id, lang)
    except NotFound as exc:
        return _gone(request, lang, exc, token)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="consent-receipt-{event_id}.json"'},
    )


@router.get(PATHS["nb"] + "/{token}")
def page_nb(request: Request, token: str) -> Response:
    return _show(request, token, "nb", _said(request, "nb"))


@router.get(PATHS["en"] + "/{token}")
def page_en(request: Request, token: str) -> Response:
    return _show(request, token, "en", _said(request, "en"))


@router.post(PATHS["nb"] + "/{token}")
async def change_nb(request: Request, token: str) -> Response:
    return await _change(request, token, "nb")


@router.post(PATHS["en"] + "/{token}")
async def change_en(request: Request, token: str) -> Response:
    return await _change(request, token, "en")


@router.get(PATHS["nb"] + "/{token}/receipt/{event_id}")
def receipt_nb(request: Request, token: str, event_id: str) -> Response:
    return _receipt(request, token, event_id, "nb")


@router.get(PATHS["en"] + "/{token}/receipt/{event_id}")
def receipt_en(request: Request, token: str, event_id: str) -> Response:
    return _receipt(request, token, event_id, "en")
