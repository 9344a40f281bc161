"""Cursor pagination for every list the API answers: an opaque cursor, a bounded page, the next cursor."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from personvern.domain.errors import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page (1 to {MAX_LIMIT})")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the page before; none: the first")]


class Page(BaseModel):
    """Subclassed per list with a typed `items`; `next_cursor` is null on the last page."""

    next_cursor: str | None = None


def encode(position: Any) -> str:
    """An opaque cursor for a position (a key, an offset, a tuple): clients pass it back, never build it."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Any:
    """The position a cursor stands for, or None for the first page; a cursor not made here is a 422."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise invalid("cursor", "is not a cursor this API gave (pass `next_cursor` of the page before)") from None


def offset_of(cursor: str | None) -> int:
    """How many items a cursor made by `after` skips; 0 for the first page."""
    position = decode(cursor)
    if position is None:
        return 0
    skip = position.get("offset") if isinstance(position, dict) else None
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise invalid("cursor", "is not a cursor this API gave (pass `next_cursor` of the page before)")
    return skip


def after(offset: int, shown: int, more: bool) -> str | None:
    """The cursor of the page after one that began at `offset` and showed `shown` items; None when none follow."""
    return encode({"offset": offset + shown}) if more and shown else None
