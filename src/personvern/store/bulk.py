"""Fast many-row inserts straight through the database driver, for imports and other batch writes.

SQLAlchemy's per-row parameter processing costs more than SQLite's own insert on a bulk load, so the
hot paths hand tuples to the driver's executemany. Values are adapted here exactly as the tables'
column types would adapt them, so rows written either way read back the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import IntegrityError

from personvern.store import people, preview

# PostgreSQL: below this many rows a plain INSERT is one round trip where COPY takes three (an audit entry).
COPY_FROM = 20


class BulkInsert:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sqlite = conn.dialect.name == "sqlite"
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

    def day(self, value: date | None) -> Any:
        """A date as the Date column type stores it on this database (SQLite: ISO text)."""
        if value is None:
            return None
        return value.isoformat() if self._sqlite else value

    def __call__(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        for name in columns:
            table.c[name]
        names = ", ".join(columns)
        if self._sqlite or len(rows) < COPY_FROM:
            marker = "?" if self._sqlite else "%s"
            self._conn.exec_driver_sql(
                f"INSERT INTO {table.fullname} ({names}) VALUES ({', '.join([marker] * len(columns))})", rows
            )
            return
        # PostgreSQL: COPY streams the rows in one statement, several times faster than batched INSERTs.
        sql = f"COPY {table.fullname} ({names}) FROM STDIN"
        # COPY goes past SQLAlchemy's statement events: a preview's guard is asked here, as an insert.
        preview.check(self._conn, f"INSERT INTO {table.fullname}")
        people.forget(self._conn)  # what was read of a person may no longer be all there is
        dbapi = self._conn.dialect.loaded_dbapi
        try:
            with self._conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        except dbapi.IntegrityError as exc:
            # Surface it as SQLAlchemy would have, so callers handle one kind of integrity error.
            raise IntegrityError(sql, None, exc) from exc
