"""Live figures for the record of processing: subjects per kind and deliveries per outbox kind, counted in SQL."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from personvern.domain.outbox import OutboxState
from personvern.services.ports import Deliveries
from personvern.store import tables as t


class SqlFigures:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def subjects_per_kind(self) -> dict[str, int]:
        s = t.subjects.c
        return {kind: int(n) for kind, n in self._conn.execute(select(s.kind, func.count()).group_by(s.kind))}

    def deliveries(self) -> list[Deliveries]:
        o = t.outbox.c
        q = (
            select(o.kind, func.count(), func.max(o.delivered_at))
            .where(o.state == OutboxState.DELIVERED.value)
            .group_by(o.kind)
            .order_by(o.kind)
        )
        return [Deliveries(kind, int(n), last) for kind, n, last in self._conn.execute(q)]
