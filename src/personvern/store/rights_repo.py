"""SQL storage of data subject requests, erasure receipts and the CEO's archive."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Row

from personvern.domain.archive import ArchiveRecord
from personvern.domain.erasure import ErasureCause, ErasureReceipt
from personvern.domain.requests import Channel, Request, RequestState, RequestType, Verification
from personvern.domain.values import lookup_key
from personvern.policy.schema import FieldType, Policy
from personvern.services.ports import Lookup
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert
from personvern.store.crypto import Vault, open_sealed, seal
from personvern.store.ids import among
from personvern.store.people import People
from personvern.store.repositories import KeyStore

CHUNK = 500  # bound on the number of parameters in one IN (...) list
ANSWER = "answer"  # the key of the answer's files in a request's sealed details


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True, default=str)


class SqlRequests:
    """Requests outlive their subject; what identifies the person is sealed under the request's own key."""

    def __init__(self, conn: Connection, keys: KeyStore, people: People) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def add(self, request: Request, identity: Mapping[str, str], details: Mapping[str, Any] | None) -> None:
        key, key_row = self._keys.new(request.id, request.received_at)
        cipher = AESGCM(key)
        stored = insert(t.requests).values(
            **self._columns(request),
            id=request.id,
            type=request.type.value,
            subject_id=request.subject_id,
            channel=request.channel.value,
            language=request.language,
            purpose=request.purpose,
            received_at=request.received_at,
            received_on=request.received_date,
            opened_by=request.opened_by,
            identity_ct=seal(cipher, f"request:{request.id}:identity", _dump(identity)),
            details_ct=None if details is None else seal(cipher, f"request:{request.id}:details", _dump(details)),
        )
        if self._conn.dialect.name == "postgresql":
            # The request's key and the request in one statement: one round trip to the server.
            stored = stored.add_cte(insert(t.data_keys).values(**key_row).cte("request_key"))
        else:
            self._conn.execute(insert(t.data_keys).values(**key_row))
        self._conn.execute(stored)

    @staticmethod
    def _columns(r: Request) -> dict[str, Any]:
        return {
            "state": r.state.value,
            "due_on": r.due_on,
            "extended_at": r.extended_at,
            "extension_reason": r.extension_reason,
            "verified_at": r.verified_at,
            "verified_by": r.verified_by,
            "verification_method": None if r.verification_method is None else r.verification_method.value,
            "closed_at": r.closed_at,
            "closed_by": r.closed_by,
            "rejection_reason": r.rejection_reason,
            "outcome": _dump(r.outcome) if r.outcome else None,
        }

    def save(self, request: Request) -> None:
        self._conn.execute(update(t.requests).where(t.requests.c.id == request.id).values(**self._columns(request)))

    def get(self, request_id: str, lock: bool = False) -> Request | None:
        q = select(*_REQUEST_COLUMNS).where(t.requests.c.id == request_id)
        row = self._conn.execute(q.with_for_update() if lock else q).first()
        return None if row is None else _request(row)

    def _sealed(self, request_id: str, column: str) -> dict[str, Any] | None:
        blob = self._conn.execute(select(t.requests.c[column]).where(t.requests.c.id == request_id)).scalar()
        if blob is None:
            return None
        key = self._keys.get([request_id]).get(request_id)
        if key is None:
            return None
        part = column.removesuffix("_ct")
        data: dict[str, Any] = json.loads(open_sealed(AESGCM(key), f"request:{request_id}:{part}", blob))
        return data

    def identity(self, request_id: str) -> dict[str, str] | None:
        return self._sealed(request_id, "identity_ct")

    def details(self, request_id: str) -> dict[str, Any] | None:
        data = self._sealed(request_id, "details_ct")
        if data is not None:
            data.pop(ANSWER, None)
        return data or None

    # The answer's files share the details' sealed part (one column, one key): they go with it when the
    # person is erased, and on their own when `[requests] keep_answer` ends (services/sealed.py).
    def _reseal(self, request_id: str, key: bytes, data: Mapping[str, Any]) -> None:
        blob = seal(AESGCM(key), f"request:{request_id}:details", _dump(data)) if data else None
        self._conn.execute(update(t.requests).where(t.requests.c.id == request_id).values(details_ct=blob))

    def keep_answer(self, request_id: str, files: Mapping[str, bytes], at: datetime) -> None:
        data = self._sealed(request_id, "details_ct") or {}
        data[ANSWER] = {name: base64.b64encode(blob).decode("ascii") for name, blob in files.items()}
        key = self._keys.get([request_id]).get(request_id) or self._keys.create([request_id], at)[request_id]
        self._reseal(request_id, key, data)

    def answer(self, request_id: str) -> dict[str, bytes] | None:
        files = (self._sealed(request_id, "details_ct") or {}).get(ANSWER)
        return None if files is None else {name: base64.b64decode(text) for name, text in files.items()}

    def forget_answer(self, request_id: str) -> None:
        data = self._sealed(request_id, "details_ct")
        key = self._keys.get([request_id]).get(request_id)
        if data is None or key is None or ANSWER not in data:
            return
        del data[ANSWER]
        self._reseal(request_id, key, data)

    def answers_kept(self, closed_before: datetime) -> list[Request]:
        rq = t.requests.c
        q = (
            select(*_REQUEST_COLUMNS)
            .where(
                rq.state.in_([RequestState.COMPLETED.value, RequestState.REJECTED.value]),
                rq.details_ct.is_not(None),
                rq.closed_at <= closed_before,
            )
            .order_by(rq.closed_at, rq.id)
        )
        return [_request(r) for r in self._conn.execute(q)]

    def forget_personal(self, request_id: str) -> None:
        self._conn.execute(
            update(t.requests).where(t.requests.c.id == request_id).values(identity_ct=None, details_ct=None)
        )
        self._keys.delete(request_id)

    def forget_subjects(self, subject_ids: Collection[str]) -> int:
        rq = t.requests.c
        ids: list[str] = []
        for chunk in _chunks(sorted(subject_ids)):
            forgotten = (
                update(t.requests)
                .where(among(self._conn, rq.subject_id, chunk))
                .values(identity_ct=None, details_ct=None)
                .returning(rq.id)
            )
            ids += self._conn.scalars(forgotten)
        self._keys.delete_many(ids)
        return len(ids)

    def unmatched_with_identity(self, states: Collection[RequestState]) -> list[Request]:
        rq = t.requests.c
        q = (
            select(*_REQUEST_COLUMNS)
            .where(
                rq.subject_id.is_(None),
                rq.state.in_([s.value for s in states]),
                or_(rq.identity_ct.is_not(None), rq.details_ct.is_not(None)),
            )
            .order_by(rq.closed_at, rq.id)
        )
        return [_request(r) for r in self._conn.execute(q)]

    def listing(
        self,
        states: Collection[RequestState],
        due_before: date | None,
        limit: int,
        after: tuple[date, datetime, str] | None = None,
    ) -> list[Request]:
        rq = t.requests.c
        q = select(*_REQUEST_COLUMNS).where(rq.state.in_([s.value for s in states]))
        if due_before is not None:
            q = q.where(rq.due_on <= due_before)
        if after is not None:
            q = q.where(tuple_(rq.due_on, rq.received_at, rq.id) > after)
        q = q.order_by(rq.due_on, rq.received_at, rq.id).limit(limit)
        return [_request(r) for r in self._conn.execute(q)]

    def for_subject(self, subject_id: str) -> list[Request]:
        return [_request(r) for r in self._people.activity(subject_id).requests]


_REQUEST_COLUMNS = [c for c in t.requests.c if c.name not in ("identity_ct", "details_ct")]


def _request(r: Any) -> Request:
    return Request(
        id=r.id,
        type=RequestType(r.type),
        state=RequestState(r.state),
        subject_id=r.subject_id,
        channel=Channel(r.channel),
        language=r.language,
        received_at=r.received_at,
        received_date=r.received_on,
        due_on=r.due_on,
        opened_by=r.opened_by,
        purpose=r.purpose,
        extended_at=r.extended_at,
        extension_reason=r.extension_reason,
        verified_at=r.verified_at,
        verified_by=r.verified_by,
        verification_method=None if r.verification_method is None else Verification(r.verification_method),
        closed_at=r.closed_at,
        closed_by=r.closed_by,
        rejection_reason=r.rejection_reason,
        outcome=json.loads(r.outcome) if r.outcome else {},
    )


class SqlErasureReceipts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, receipt: ErasureReceipt) -> None:
        self.add_many([receipt])

    def add_many(self, receipts: Sequence[ErasureReceipt]) -> None:
        bulk = BulkInsert(self._conn)
        bulk(
            t.erasure_receipts,
            ("id", "subject_id", "request_id", "erased_at", "cause", "held_until", "details"),
            [
                (
                    r.id,
                    r.subject_id,
                    r.request_id,
                    bulk.instant(r.erased_at),
                    r.cause.value,
                    bulk.day(r.held_until),
                    _dump(r.details),
                )
                for r in receipts
            ],
        )

    def get(self, receipt_id: str) -> ErasureReceipt | None:
        row = self._conn.execute(select(t.erasure_receipts).where(t.erasure_receipts.c.id == receipt_id)).first()
        return None if row is None else _receipt(row)

    def for_subject(self, subject_id: str) -> list[ErasureReceipt]:
        c = t.erasure_receipts.c
        q = select(t.erasure_receipts).where(c.subject_id == subject_id).order_by(c.erased_at, c.id)
        return [_receipt(r) for r in self._conn.execute(q)]


def _receipt(r: Row[Any]) -> ErasureReceipt:
    return ErasureReceipt(
        r.id, r.subject_id, r.request_id, r.erased_at, ErasureCause(r.cause), r.held_until, json.loads(r.details)
    )


class SqlArchive:
    """Archived records: one sealed JSON document per record, under the record's own data key."""

    def __init__(self, conn: Connection, vault: Vault, keys: KeyStore, policy: Policy, people: People) -> None:
        self._conn = conn
        self._vault = vault
        self._keys = keys
        self._policy = policy
        self._people = people

    def add(self, record: ArchiveRecord, values: Mapping[str, str]) -> None:
        self.add_many([(record, values)])

    def add_many(self, records: Sequence[tuple[ArchiveRecord, Mapping[str, str]]]) -> None:
        if not records:
            return
        # A key of each record's own: erasing one archived person later shreds that record alone.
        keys = self._keys.create([r.id for r, _v in records], records[0][0].archived_at)
        bulk = BulkInsert(self._conn)
        rows, lookups = [], []
        for record, values in records:
            rows.append(
                (
                    record.id,
                    record.subject_id,
                    record.kind,
                    bulk.instant(record.received_at),
                    bulk.instant(record.archived_at),
                    record.reason,
                    seal(AESGCM(keys[record.id]), f"archive:{record.id}", _dump(values)),
                )
            )
            # Found by what a request names (email, phone, ...), never by a name: no name digest is kept here.
            lookups += [
                (record.id, name, self._vault.blind(name, lookup_key(spec.type, value)))
                for name, value in values.items()
                if (spec := self._policy.fields.get(name)) is not None
                and spec.lookup
                and spec.type is not FieldType.NAME
            ]
        bulk(t.archive_records, ("id", "subject_id", "kind", "received_at", "archived_at", "reason", "values_ct"), rows)
        bulk(t.archive_lookups, ("record_id", "field", "digest"), lookups)

    def get(self, record_id: str) -> ArchiveRecord | None:
        row = self._conn.execute(select(*_ARCHIVE_COLUMNS).where(t.archive_records.c.id == record_id)).first()
        return None if row is None else _archived(row)

    def for_subject(self, subject_id: str) -> ArchiveRecord | None:
        row = self._people.get(subject_id).archived
        return None if row is None else _archived(row)

    def for_subjects(self, subject_ids: Collection[str]) -> dict[str, ArchiveRecord]:
        one = self._people.one(subject_ids)
        if one is not None:
            found = self.for_subject(one)
            return {} if found is None else {one: found}
        out: dict[str, ArchiveRecord] = {}
        for chunk in _chunks(sorted(subject_ids)):
            q = select(*_ARCHIVE_COLUMNS).where(among(self._conn, t.archive_records.c.subject_id, chunk))
            out.update((r.subject_id, _archived(r)) for r in self._conn.execute(q))
        return out

    def find(self, lookup: Lookup) -> list[ArchiveRecord]:
        digest = self._vault.blind(lookup.field, lookup.key)
        q = (
            select(*_ARCHIVE_COLUMNS)
            .join(t.archive_lookups, t.archive_lookups.c.record_id == t.archive_records.c.id)
            .where(t.archive_lookups.c.field == lookup.field, t.archive_lookups.c.digest == digest)
        )
        return [_archived(r) for r in self._conn.execute(q)]

    def values(self, record: ArchiveRecord) -> dict[str, str]:
        blob = self._conn.execute(
            select(t.archive_records.c.values_ct).where(t.archive_records.c.id == record.id)
        ).scalar_one()
        data: dict[str, str] = json.loads(open_sealed(self._keys.cipher(record.id), f"archive:{record.id}", blob))
        return data

    def listing(self, limit: int, offset: int) -> list[ArchiveRecord]:
        c = t.archive_records.c
        q = select(*_ARCHIVE_COLUMNS).order_by(c.archived_at, c.id).limit(limit).offset(offset)
        return [_archived(r) for r in self._conn.execute(q)]

    def count(self) -> int:
        return int(self._conn.scalar(select(func.count()).select_from(t.archive_records)) or 0)

    def erase(self, record_id: str) -> None:
        self.erase_many([record_id])

    def erase_many(self, record_ids: Collection[str]) -> None:
        ids = sorted(record_ids)
        for chunk in _chunks(ids):
            self._conn.execute(delete(t.archive_lookups).where(among(self._conn, t.archive_lookups.c.record_id, chunk)))
            self._conn.execute(delete(t.archive_records).where(among(self._conn, t.archive_records.c.id, chunk)))
        self._keys.delete_many(ids)


_ARCHIVE_COLUMNS = [c for c in t.archive_records.c if c.name != "values_ct"]


def _archived(r: Row[Any]) -> ArchiveRecord:
    return ArchiveRecord(r.id, r.subject_id, r.kind, r.received_at, r.archived_at, r.reason)
