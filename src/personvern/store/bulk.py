"""Fast many-row inserts straight through the database driver, for imports and other batch writes.

SQLAlchemy's per-row parameter processing costs more than SQLite's own insert on a bulk load, so the
hot paths hand tuples to the driver's executemany. Values are adapted here exactly as the tables'
column types would adapt them, so rows written either way read back the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table


class BulkInsert:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sqlite = conn.dialect.name == "sqlite"
        self._mark = "?" if self._sqlite else "%s"
        self._instants: dict[datetime, Any] = {}  # a batch shares a few timestamps; format each once

    def instant(self, value: datetime) -> Any:
        """A timestamp as the UTCDateTime column type stores it on this database."""
        stored = self._instants.get(value)
        if stored is None:
            utc = value.astimezone(UTC)
            # SQLAlchemy's SQLite DATETIME storage format, so the column type parses it back.
            stored = utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else utc
            self._instants[value] = stored
        return stored

    def flag(self, value: bool) -> Any:
        return int(value) if self._sqlite else value

    def __call__(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        for name in columns:
            table.c[name]
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([self._mark] * len(columns))})"
        self._conn.exec_driver_sql(sql, list(rows))
