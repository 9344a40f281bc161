"""SQL storage of the website's cookie choices (table `cookie_consents`): the proof of each, and counts by month."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from personvern.domain.cookies import CookieChoice, Method, stored
from personvern.store import tables as t


def _choice(row: Any) -> CookieChoice:
    return CookieChoice(
        id=row.id,
        visitor=row.visitor,
        at=row.at,
        banner_version=row.banner_version,
        choices=json.loads(row.choices),
        method=Method(row.method),
        gpc=bool(row.gpc),
    )


class SqlCookieChoices:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, choice: CookieChoice) -> None:
        self._conn.execute(
            insert(t.cookie_consents).values(
                id=choice.id,
                visitor=choice.visitor,
                at=choice.at,
                banner_version=choice.banner_version,
                choices=stored(choice.choices),
                method=choice.method.value,
                gpc=choice.gpc,
            )
        )

    def for_visitor(self, visitor: str) -> list[CookieChoice]:
        c = t.cookie_consents.c
        rows = self._conn.execute(select(t.cookie_consents).where(c.visitor == visitor).order_by(c.at, c.id))
        return [_choice(row) for row in rows]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.cookie_consents)).scalar_one())

    def tally(self, months: Sequence[tuple[str, datetime, datetime]]) -> dict[tuple[str, str], int]:
        """Per month (label, start, end: half-open) and stored choices JSON, how many choices.

        Grouped by the canonical JSON text: a banner of n optional categories has at most 2^n spellings, so
        the database counts and only a handful of rows come back, whatever the traffic.
        """
        c = t.cookie_consents.c
        out: dict[tuple[str, str], int] = {}
        for label, start, end in months:
            query = select(c.choices, func.count()).where(c.at >= start, c.at < end).group_by(c.choices)
            for choices, n in self._conn.execute(query):
                out[(label, choices)] = int(n)
        return out

    def delete_before(self, before: datetime) -> int:
        return int(self._conn.execute(delete(t.cookie_consents).where(t.cookie_consents.c.at < before)).rowcount)
