"""Rendering the public side's pages: the visitor's language comes from the address, not from a sign-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from personvern.web.i18n import LANGUAGES, Formats, language
from personvern.web.pages import environment
from personvern.web.visit import runtime

# Every answer of the public requests (API and pages) takes at least this long, whatever the work behind it:
# confirming a code opens a request that matches a customer or nobody, and the two take different paths in the
# database. Padding both to the same floor keeps the time from telling who is a customer (bench/public_timing.py).
FLOOR = 0.3
T = TypeVar("T")

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


def client_of(request: Request) -> str:
    """The client's address as the server sees it (the proxy's X-Forwarded-For only with --proxy-headers)."""
    return request.client.host if request.client is not None else "unknown"


async def padded(work: Callable[[], T]) -> T:
    """Run the work off the event loop and answer no sooner than FLOOR after it started, failure or not."""
    started = time.perf_counter()
    try:
        return await run_in_threadpool(work)
    finally:
        left = FLOOR - (time.perf_counter() - started)
        if left > 0:
            await asyncio.sleep(left)
