"""Bounded input types shared by the API's routers: ids in paths, texts without control characters, cursors."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from personvern.api.pagination import decode
from personvern.domain.errors import invalid

# Ids are made by personvern (32 hexadecimal digits); anything else is looked up and not found, but a path
# never carries more than this (nor a character the databases refuse in a text, such as NUL).
Id = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,64}$", description="An id as personvern gave it.")]

# Line breaks and tabs, but no other control character: PostgreSQL refuses NUL in a text, and none belongs
# in a reason, a description or a message.
NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def text(max_length: int, description: str, min_length: int = 1) -> Any:
    """A `Field` for free text: bounded, and without control characters other than line breaks and tabs."""
    return Field(min_length=min_length, max_length=max_length, pattern=NO_CONTROLS, description=description)


def key_of(cursor: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The key a cursor stands for, each part of the kind given (date, datetime, str, int); None: the first page.

    A cursor not made here, or made by another list, is a 422 naming `cursor`.
    """
    position = decode(cursor)
    if position is None:
        return None
    wrong = invalid("cursor", "is not a cursor of this list (pass `next_cursor` of the page before)")
    if not isinstance(position, list) or len(position) != len(kinds):
        raise wrong
    out: list[Any] = []
    for value, kind in zip(position, kinds, strict=True):
        try:
            if kind is date and isinstance(value, str):
                out.append(date.fromisoformat(value))
            elif kind is datetime and isinstance(value, str):
                instant = datetime.fromisoformat(value)
                if instant.tzinfo is None:
                    raise wrong
                out.append(instant)
            elif kind in (str, int) and type(value) is kind:
                out.append(value)
            else:
                raise wrong
        except ValueError:
            raise wrong from None
    return tuple(out)
