"""Request bodies read with a bound: what is larger is refused (413) before it is read whole or stored."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from personvern.api.errors import ErrorBody

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
    if declared is not None and declared.isdigit() and int(declared) > limit:
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
