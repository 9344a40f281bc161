"""A list of ids as one bound parameter, so a query over a batch is one cached statement whatever its length.

`column IN (?, ?, …)` costs a bound parameter per id: SQLAlchemy renders, and the PostgreSQL driver
re-parses, a different statement for every length, which for a retention batch cost more than the
database's own work. `= ANY(:ids)` (a PostgreSQL array) and `IN (SELECT value FROM json_each(:ids))`
(SQLite's JSON table function) take the list as one value; both probe the column's index per id.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY


def among(conn: Connection, column: ColumnElement[Any], ids: Collection[str]) -> ColumnElement[bool]:
    """`column IN ids`, with the ids bound as one parameter."""
    if len(ids) == 1:
        # One subject (a look-up, an access package, an erasure): a plain equality, which every planner reads
        # as one index probe and SQLAlchemy caches, instead of building the table function each call.
        return column == next(iter(ids))
    if conn.dialect.name == "postgresql":
        joined = ",".join(ids)
        if joined.count(",") == len(ids) - 1:
            # Our ids are hex: one comma-separated text, split by the server, spares the driver quoting each
            # element of an array (most of the client's time on a batch of 500).
            return column == any_(func.string_to_array(bindparam(None, joined, type_=String), ","))
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(list(ids)), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))
