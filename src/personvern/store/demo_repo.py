"""SQL storage of the demo sink (table `demo_messages`): what would have been sent, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select

from personvern.services.ports import DemoMessage
from personvern.store import tables as t


def _message(row: Any) -> DemoMessage:
    return DemoMessage(row.id, row.outbox_id, row.kind, row.at, row.destination, row.subject_line, row.body)


class SqlDemoMessages:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, message: DemoMessage) -> bool:
        """Keep it, unless its outbox row is kept already (a row sent again after a worker died); whether kept."""
        c = t.demo_messages.c
        if self._conn.execute(select(exists().where(c.outbox_id == message.outbox_id))).scalar():
            return False
        self._conn.execute(
            insert(t.demo_messages).values(
                id=message.id,
                outbox_id=message.outbox_id,
                kind=message.kind,
                at=message.at,
                destination=message.destination,
                subject_line=message.subject_line,
                body=message.body,
            )
        )
        return True

    def newest(self, since: datetime, limit: int) -> list[DemoMessage]:
        c = t.demo_messages.c
        query = select(t.demo_messages).where(c.at >= since).order_by(c.at.desc(), c.id.desc()).limit(limit)
        return [_message(row) for row in self._conn.execute(query)]

    def delete_before(self, before: datetime) -> int:
        return self._conn.execute(delete(t.demo_messages).where(t.demo_messages.c.at < before)).rowcount
