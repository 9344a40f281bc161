"""The privacy notice (Art. 13-14) and the record of processing (Art. 30) in the console, as the reports render them."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from personvern.services import notices
from personvern.services.record import record_of_processing
from personvern.web.pages import ConsoleRoute, render
from personvern.web.visit import PREFIX, Seen, Visit

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

_BODY = re.compile(r"<body[^>]*>(?P<body>.*)</body>", re.DOTALL)
_MAIN = re.compile(r"</?main[^>]*>")


def body_of(document: str) -> Markup:
    """The body of a page the reports rendered (autoescaped by their templates), to show inside the console's own.

    Its <head> (and the inline style there, which the console's Content-Security-Policy refuses) is left out;
    its <main> becomes the console's.
    """
    found = _BODY.search(document)
    inner = found["body"] if found else ""
    # Safe as markup: the report templates escaped every value as they rendered it.
    return Markup(_MAIN.sub("", inner))


def _lang(request: Request, v: Visit) -> str:
    asked = request.query_params.get("lang")
    languages = v.ctx.policy.languages
    if asked in languages:
        return asked
    return v.lang if v.lang in languages else languages[0]


@router.get("/notice")
def notice(request: Request, v: Seen) -> Response:
    lang = _lang(request, v)
    rendered = notices.render(v.ctx, lang, "html")
    return render(
        request,
        "document.html",
        v,
        title_key="notice",
        body=body_of(rendered.notice.text),
        shown=lang,
        sha256=rendered.notice.sha256,
        published=rendered.published,
        languages_of_policy=v.ctx.policy.languages,
        here="notice",
    )


@router.get("/record")
def record(request: Request, v: Seen) -> Response:
    lang = _lang(request, v)
    _data, html = record_of_processing(v.ctx, lang, "html")
    return render(
        request,
        "document.html",
        v,
        title_key="record",
        body=body_of(html),
        shown=lang,
        sha256=None,
        published=None,
        languages_of_policy=v.ctx.policy.languages,
        here="record",
    )
