"""One person read in one statement, kept for the rest of the transaction until anything is written.

Showing a subject, deciding its retention, answering an access request or erasing it reads the same rows by the
subject's id: the subject, its data key, values, relationships (and its organisation's), consent ledger,
objections and restrictions, open requests, erasure receipts and archived record. On PostgreSQL every statement
is a round trip to the server, so they are read together, as one statement of scalar subqueries (the rows of
each table as a JSON array), and the repositories answer a single subject from what was read. Any statement that
writes (or locks) on the connection forgets it, so nothing read before a change is used after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    LargeBinary,
    String,
    Text,
    bindparam,
    cast,
    event,
    func,
    literal_column,
    select,
)

from personvern.domain.requests import OPEN_STATES
from personvern.store import tables as t

# Where a connection keeps the people read in its transaction (the unit of work clears it on leaving).
PEOPLE = "personvern.people"

_READS = ("SELECT", "PRAGMA", "SHOW")


def forget(conn: Connection) -> None:
    conn.info.pop(PEOPLE, None)


def _before_cursor_execute(
    conn: Connection, _cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
) -> None:
    if PEOPLE not in conn.info:
        return
    head = statement.lstrip()[:8].upper()
    if not head.startswith(_READS) or "FOR UPDATE" in statement[-40:].upper():
        conn.info.pop(PEOPLE, None)


def watch(engine: Engine) -> None:
    """Forget what was read whenever the connection writes (a COPY, which passes these events, forgets too)."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)


def utc(value: str | None) -> datetime | None:
    """A timestamp from JSON: SQLite's stored UTC text, or PostgreSQL's ISO form with the session's offset."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value[:10])


def blob(value: str | None) -> bytes | None:
    # SQLite's hex() of NULL is '', and no sealed value is empty.
    return bytes.fromhex(value) if value else None


@dataclass(frozen=True)
class Person:
    """What one statement read of a subject id. `subject` None: no such subject in the live register."""

    subject: Any  # the `subjects` row
    wrapped: bytes | None  # its data key, wrapped
    values: dict[str, bytes]  # field -> ciphertext
    relationships: list[list[Any]]  # id, type, started_on, ends_on, ended_on, description_ct (JSON forms)
    organisation: list[list[Any]]  # the same (with subject_id) of its organisation's members: business kinds
    consents: list[list[Any]]  # consent_events' columns, in CONSENT_COLUMNS order
    blocks: list[list[Any]]  # subject_blocks' columns, in BLOCK_COLUMNS order
    open_requests: set[str]  # the types of its open requests
    erasure_causes: set[str]  # the causes of its erasure receipts
    archived: Any  # its archive record's columns (id None: none)


_STATEMENTS: dict[Any, Any] = {}

RELATIONSHIP_COLUMNS = ("id", "type", "started_on", "ends_on", "ended_on", "description_ct")
ORGANISATION_COLUMNS = ("id", "subject_id", "type", "started_on", "ends_on", "ended_on")
CONSENT_COLUMNS = tuple(c.name for c in t.consent_events.c)
BLOCK_COLUMNS = tuple(c.name for c in t.subject_blocks.c)
# What an access package and an erasure read besides: requests (without what is sealed), messages (without
# their text), outbox rows.
REQUEST_COLUMNS = tuple(c.name for c in t.requests.c if c.name not in ("identity_ct", "details_ct"))
MESSAGE_COLUMNS = tuple(c.name for c in t.messages.c if c.name != "text_ct")
OUTBOX_COLUMNS = tuple(c.name for c in t.outbox.c)


@dataclass(frozen=True)
class Activity:
    """A subject's requests, messages and outbox rows, read in one statement; each list oldest first."""

    requests: list[Columns]
    messages: list[Columns]
    outbox: list[Columns]


class People:
    """The unit of work's reader of whole persons: `get(id)` reads once per transaction (until a write)."""

    def __init__(self, conn: Connection, business_kinds: Collection[str]) -> None:
        self._conn = conn
        self._business = sorted(business_kinds)
        self._pg = conn.dialect.name == "postgresql"

    def cached(self, subject_id: str) -> Person | None:
        """What was read of the subject in this transaction and is still current; None if nothing is."""
        found: dict[Any, Any] | None = self._conn.info.get(PEOPLE)
        return None if found is None else found.get(subject_id)

    def get(self, subject_id: str) -> Person:
        person = self.cached(subject_id)
        if person is None:
            person = self._read(subject_id)
            self._conn.info.setdefault(PEOPLE, {})[subject_id] = person
        return person

    def activity(self, subject_id: str) -> Activity:
        """The subject's requests, messages and outbox rows (one statement, kept as `get` keeps a person)."""
        found: dict[Any, Any] = self._conn.info.get(PEOPLE) or {}
        cached: Activity | None = found.get(("activity", subject_id))
        if cached is not None:
            return cached
        r, m, o = t.requests, t.messages, t.outbox
        key = (self._conn.dialect.name, "activity")
        q = _STATEMENTS.get(key)
        if q is None:
            sid = bindparam("sid", type_=String)
            q = _STATEMENTS[key] = select(
                self._rows([r.c[n] for n in REQUEST_COLUMNS], r, r.c.subject_id == sid).label("requests"),
                self._rows([m.c[n] for n in MESSAGE_COLUMNS], m, m.c.subject_id == sid).label("messages"),
                self._rows([o.c[n] for n in OUTBOX_COLUMNS], o, o.c.subject_id == sid).label("outbox"),
            )
        row = self._conn.execute(q, {"sid": subject_id}).one()
        activity = Activity(
            sorted((Columns(REQUEST_COLUMNS, v, _REQUEST_TYPES) for v in json.loads(row.requests)),
                   key=lambda x: (x.received_at, x.id)),
            sorted((Columns(MESSAGE_COLUMNS, v, _MESSAGE_TYPES) for v in json.loads(row.messages)),
                   key=lambda x: (x.created_at, x.id)),
            sorted((Columns(OUTBOX_COLUMNS, v, _OUTBOX_TYPES) for v in json.loads(row.outbox)),
                   key=lambda x: (x.created_at, x.id)),
        )  # fmt: skip
        self._conn.info.setdefault(PEOPLE, {})[("activity", subject_id)] = activity
        return activity

    def cached_activity(self, subject_id: str) -> Activity | None:
        found: dict[Any, Any] | None = self._conn.info.get(PEOPLE)
        return None if found is None else found.get(("activity", subject_id))

    def one(self, ids: Collection[str]) -> str | None:
        """The id when a repository is asked for exactly one (the case a person's read serves)."""
        return next(iter(ids)) if len(ids) == 1 else None

    # -- the statement
    def _rows(self, columns: Sequence[Any], source: Any, where: Any) -> Any:
        """The rows as one JSON text: an array of arrays of the columns (binary ones hex-encoded in SQL)."""
        if self._pg:
            agg = func.coalesce(func.json_agg(func.json_build_array(*columns)), literal_column("'[]'::json"))
            return select(cast(agg, Text)).select_from(source).where(where).scalar_subquery()
        return (
            select(func.json_group_array(func.json_array(*columns))).select_from(source).where(where).scalar_subquery()
        )

    def _hex(self, column: Any) -> Any:
        return func.encode(column, "hex") if self._pg else func.hex(column)

    def _json_columns(self, table: Any, names: Sequence[str]) -> list[Any]:
        """The columns as JSON can hold them: bytes (a sealed proof, a description) as hex, read back by `blob`."""
        return [self._hex(table.c[n]) if isinstance(table.c[n].type, LargeBinary) else table.c[n] for n in names]

    def _statement(self) -> Any:
        """Built once per database kind and policy (its business kinds): only the id changes between calls."""
        key = (self._conn.dialect.name, tuple(self._business))
        q = _STATEMENTS.get(key)
        if q is None:
            q = _STATEMENTS[key] = self._build()
        return q

    def _build(self) -> Any:
        s, k, a = t.subjects, t.data_keys, t.archive_records
        me = select(bindparam("sid", type_=String).label("sid")).subquery("me")
        sid = me.c.sid
        r, v, c, b = t.relationships, t.subject_values, t.consent_events, t.subject_blocks
        rq, e = t.requests, t.erasure_receipts
        peer, org_rel = t.subjects.alias("peer"), t.relationships.alias("org_rel")
        open_states = [state.value for state in OPEN_STATES]
        relationship_columns = [r.c[n] for n in RELATIONSHIP_COLUMNS[:-1]] + [self._hex(r.c.description_ct)]
        q = (
            select(
                *[s.c[col.name].label(f"s_{col.name}") for col in t.subjects.c],
                k.c.wrapped,
                *[a.c[col.name].label(f"a_{col.name}") for col in t.archive_records.c if col.name != "values_ct"],
                self._rows([v.c.field, self._hex(v.c.ciphertext)], v, v.c.subject_id == sid).label("values"),
                self._rows(relationship_columns, r, r.c.subject_id == sid).label("relationships"),
                # A business subject counts its organisation's orders and contracts (members' relationships).
                self._rows(
                    [org_rel.c[n] for n in ORGANISATION_COLUMNS],
                    peer.join(org_rel, org_rel.c.subject_id == peer.c.id),
                    (peer.c.organisation_id == s.c.organisation_id) & s.c.kind.in_(_constants(self._business)),
                ).label("organisation"),
                self._rows(self._json_columns(c, CONSENT_COLUMNS), c, c.c.subject_id == sid).label("consents"),
                self._rows(self._json_columns(b, BLOCK_COLUMNS), b, b.c.subject_id == sid).label("blocks"),
                self._rows([rq.c.type], rq, (rq.c.subject_id == sid) & rq.c.state.in_(_constants(open_states))).label(
                    "open"
                ),
                self._rows([e.c.cause], e, e.c.subject_id == sid).label("receipts"),
            )
            .select_from(me)
            .outerjoin(s, s.c.id == sid)
            .outerjoin(k, k.c.owner_id == s.c.id)
            .outerjoin(a, a.c.subject_id == sid)
        )
        return q

    def _read(self, subject_id: str) -> Person:
        row = self._conn.execute(self._statement(), {"sid": subject_id}).one()
        live = row.s_id is not None
        return Person(
            subject=_Prefixed(row, "s_") if live else None,
            wrapped=row.wrapped,
            values={name: bytes.fromhex(ct) for name, ct in json.loads(row.values)},
            relationships=json.loads(row.relationships),
            organisation=json.loads(row.organisation) if live and row.organisation else [],
            consents=json.loads(row.consents),
            blocks=json.loads(row.blocks),
            open_requests={x for (x,) in json.loads(row.open)},
            erasure_causes={x for (x,) in json.loads(row.receipts)},
            archived=_Prefixed(row, "a_") if row.a_id is not None else None,
        )


def _converters(table: Any, names: Sequence[str]) -> tuple[Callable[[Any], Any] | None, ...]:
    """Per column, how its JSON form becomes what the column type gives: times, days, hex-encoded bytes."""
    out: list[Callable[[Any], Any] | None] = []
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, t.UTCDateTime):
            out.append(utc)
        elif isinstance(kind, Date):
            out.append(day)
        elif isinstance(kind, LargeBinary):
            out.append(blob)
        else:
            out.append(None)
    return tuple(out)


def _constants(values: Sequence[str]) -> list[Any]:
    """Fixed names (the policy's kinds, request states) written into the statement, so that it is the same text
    on every call (a list of bound values is expanded into the statement's text each time it runs)."""
    return [literal_column("'" + v.replace("'", "''") + "'") for v in values] or [literal_column("''")]


class Columns:
    """A row read as JSON, its columns by name (`.at`, `.kind`), typed as the table's columns give them."""

    __slots__ = ("_values",)

    def __init__(self, names: Sequence[str], values: Sequence[Any], converters: Sequence[Any]) -> None:
        self._values = {
            name: (value if convert is None or value is None else convert(value))
            for name, value, convert in zip(names, values, converters, strict=True)
        }

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def consent_rows(person: Person) -> list[Columns]:
    """The consent events as rows, oldest first (by time, then id), as `SqlConsents.for_subject` reads them."""
    rows = [Columns(CONSENT_COLUMNS, values, _CONSENT_TYPES) for values in person.consents]
    return sorted(rows, key=lambda r: (r.at, r.id))


def block_rows(person: Person) -> list[Columns]:
    """The objections and restrictions as rows, by when they were set (then id)."""
    rows = [Columns(BLOCK_COLUMNS, values, _BLOCK_TYPES) for values in person.blocks]
    return sorted(rows, key=lambda r: (r.set_at, r.id))


def relationship_rows(person: Person) -> list[tuple[str, str, date, date | None, date | None, bytes | None]]:
    """(id, type, started_on, ends_on, ended_on, description ciphertext), by start (then id)."""
    rows = [
        (i, kind, date.fromisoformat(a[:10]), day(b), day(c), blob(d)) for i, kind, a, b, c, d in person.relationships
    ]
    return sorted(rows, key=lambda r: (r[2], r[0]))


def organisation_rows(person: Person) -> list[tuple[str, str, str, date, date | None, date | None]]:
    """(id, subject_id, type, started_on, ends_on, ended_on) of the organisation's members' relationships."""
    return [(i, sid, kind, date.fromisoformat(a[:10]), day(b), day(c)) for i, sid, kind, a, b, c in person.organisation]


_CONSENT_TYPES = _converters(t.consent_events, CONSENT_COLUMNS)
_BLOCK_TYPES = _converters(t.subject_blocks, BLOCK_COLUMNS)
_REQUEST_TYPES = _converters(t.requests, REQUEST_COLUMNS)
_MESSAGE_TYPES = _converters(t.messages, MESSAGE_COLUMNS)
_OUTBOX_TYPES = _converters(t.outbox, OUTBOX_COLUMNS)


class _Prefixed:
    """The columns of one table in a joined row, by their own names (`row.s_kind` as `.kind`)."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)
