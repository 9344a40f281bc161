"""Request bodies read with a bound: what is larger is refused (413) before it is read whole or stored."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personvern.api.errors import ErrorBody, error_response

TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The body is larger than allowed"}
}
# A form route answers 415 to a body that is not multipart/form-data (`read_form`).
NOT_A_FORM: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorBody, "description": "The body is not multipart/form-data"}
}


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {_size(limit)}; nothing was read or stored")


async def bounded_stream(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """The body's chunks, refused once more than `limit` bytes came (a missing or false Content-Length too)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > limit:
        raise _too_large(limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit)
        yield chunk


async def read_bounded(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes."""
    return b"".join([chunk async for chunk in bounded_stream(request, limit)])


async def read_form(request: Request, limit: int, max_fields: int = 20) -> FormData:
    """A multipart form of at most `limit` bytes, its one file included (spooled to disk past 1 MiB)."""
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise HTTPException(415, "send the file as multipart/form-data (a form with a `file` field)")
    parser = MultiPartParser(request.headers, bounded_stream(request, limit), max_files=1, max_fields=max_fields)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"the form cannot be read: {exc.message}") from None


# Every body but those a route bounds itself: the largest JSON body of ours is a policy (1 000 000 characters,
# a few MB escaped); urlencoded forms (the console, the public pages) are read whole by Starlette otherwise.
MAX_BODY = 4 * 1024 * 1024


class BodyLimit:
    """An ASGI middleware: a body past `limit` bytes is refused (413) as it arrives, never read whole.

    `own` names the paths whose routes read their body with a bound of their own (`read_form`, `read_bounded`).
    A body declared larger is refused before the route runs; one that grows past the bound is cut short (the
    route sees the client go away, and whatever it answers is replaced by the refusal).
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY, own: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.limit = limit
        self.own = own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.own:
            await self.app(scope, receive, send)
            return
        limit = self.limit
        refusal = error_response(413, "too_large", _too_large(limit).detail)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await refusal(scope, receive, send)
            return
        received, over, started = 0, False, False

        async def bounded() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, answer)
        except Exception:
            if not over:
                raise
        if over and not started:
            await refusal(scope, receive, send)
