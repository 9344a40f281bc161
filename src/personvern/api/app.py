"""The application factory: the API, the console and the health checks, with the headers every answer carries."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personvern import __version__
from personvern.api import errors
from personvern.api.bodies import BodyLimit
from personvern.api.routes import API_PREFIX, include_all
from personvern.bootstrap import Runtime, Settings, open_runtime
from personvern.store.engine import current_revision, head_revision
from personvern.store.rotation import key_state
from personvern.web.routes import install as install_console

log = logging.getLogger("personvern.http")

# Pages and answers hold personal data: nothing may be framed, cached, or leak the address it came from.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
CACHEABLE = ("/static/",)  # the console's own style sheet and scripts: no personal data


def create_app(runtime: Runtime) -> FastAPI:
    """One app for one runtime: tests build it directly, `personvern serve` through `from_environment`."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()

    app = FastAPI(
        title="personvern",
        version=__version__,
        description="The staff API of personvern: the customer register that enforces its privacy policy.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    errors.install(app)
    # Every body bounded as it arrives (issue 17: a 10 MB JSON body is refused, not read); the import reads its
    # larger upload with its own bound. Added before `Headers` (so inside it), so that its refusals carry them too.
    app.add_middleware(BodyLimit, own=frozenset({f"{API_PREFIX}/subjects/import"}))
    app.add_middleware(Headers)

    @app.get("/healthz", tags=["health"], summary="The process runs")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database answers and its migrations are current",
        responses={503: errors.ERRORS[503]},
    )
    def readyz() -> JSONResponse:
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = current_revision(runtime.engine)
            keys = key_state(runtime.engine)
        except Exception:  # any failure to reach the database is "not ready", never a 500
            return errors.error_response(503, "not_ready", "the database does not answer")
        head = head_revision(runtime.engine)
        if current != head:
            return errors.error_response(
                503, "not_ready", f"the database is at migration {current}, this version needs {head}"
            )
        if keys.rotating_to is not None or keys.installed != runtime.uow.vault.key_id:
            # `keys rotate` ran while this server was up: a key it wrapped now would open only with the old
            # key file. Not ready, so a proxy's health check takes it out; restart it with the new key.
            return errors.error_response(
                503, "not_ready", "the master key was rotated (or is being rotated) since this server started"
            )
        return JSONResponse({"status": "ready", "migration": current})

    include_all(app)
    install_console(app)
    return app


class Headers:
    """An ASGI middleware (not Starlette's `@app.middleware`, whose extra task and stream per request cost a fifth
    of a small answer's time): every answer gets the security headers and, unless a static file, `no-store`; a
    path or query holding a control character is refused before any route parses it; one log line per request,
    with the path but never the query (it may hold an e-mail address or a phone number)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        status = 0

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not path.startswith(CACHEABLE):
                    headers["Cache-Control"] = "no-store"
                if scope.get("scheme") == "https" and "Strict-Transport-Security" not in headers:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        where = _control_characters(Request(scope))
        if where is not None:
            # PostgreSQL cannot store NUL in text, and no id, look-up or value of ours holds a control character:
            # refused here, as bad input, before any route parses it.
            refusal = errors.error_response(
                422, "invalid_input", f"{where}: must not hold a control character (such as NUL)", where
            )
            await refusal(scope, receive, with_headers)
        else:
            await self.app(scope, receive, with_headers)
        log.info("%s %s %d %.1f ms", scope["method"], path, status, (time.perf_counter() - started) * 1000)


def _control_characters(request: Request) -> str | None:
    """The field (a query parameter's name, or `url` for the path) holding a control character, if any."""

    def bad(text: str) -> bool:
        return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)

    if bad(unquote(request.url.path)):
        return "url"
    for name, value in request.query_params.multi_items():
        if bad(value):
            return name if not bad(name) else "url"
    return "url" if bad(unquote(request.url.query or "")) else None


def from_environment() -> FastAPI:
    """The factory `personvern serve` gives uvicorn: settings from the environment, as the CLI reads them."""
    return create_app(open_runtime(Settings.resolve()))
