"""Rendering the public side's pages: the visitor's language comes from the address, not from a sign-in."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from personvern.web.i18n import LANGUAGES, Formats, language
from personvern.web.pages import environment
from personvern.web.visit import runtime

# The privacy page in each language (DESIGN.md §4b): / leads to the first.
HOME = {"nb": "/personvern", "en": "/privacy"}


def home(lang: str) -> str:
    return HOME[language(lang)]


def render_public(
    request: Request,
    template: str,
    lang: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    alternates: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """A public page in `lang`; `alternates` gives the same page's address in the other languages (default:
    the privacy page in each)."""
    lang = language(lang)
    rt = runtime(request)
    policy = rt.policy.policy
    links = alternates or HOME
    html = (
        environment(lang)
        .get_template(template)
        .render(
            lang=lang,
            v=None,
            fmt=Formats(lang, policy.controller.timezone),
            path=request.url.path,
            controller=policy.controller.name,
            home=HOME[lang],
            other_languages=[(code, links[code]) for code in LANGUAGES if code != lang and code in links],
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=headers)
