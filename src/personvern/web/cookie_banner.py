"""The website's cookie banner script (/consent.js) and an example website that embeds it (no personal data)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from personvern.services import cookies
from personvern.web.public_pages import render_public
from personvern.web.visit import runtime

router = APIRouter(include_in_schema=False)

SCRIPT = Path(__file__).parent / "static" / "consent.js"


@router.get("/consent.js")
def consent_js() -> FileResponse:
    # Loaded by the company's pages on another origin too: a script's MIME type must be exact (nosniff).
    return FileResponse(SCRIPT, media_type="text/javascript; charset=utf-8")


@router.get("/personvern/nettsted-eksempel")
def website_example(request: Request) -> HTMLResponse:
    """A page as the company's website would be: the banner, one optional statistics script, a link to change."""
    banner = cookies.banner(runtime(request).context(), "nb")
    return render_public(request, "public/website_example.html", "nb", cookies=banner)
