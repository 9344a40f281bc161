"""SQL outbox and message log: personal parts sealed, and claims that pass over rows other workers hold."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Row, Update, bindparam, func, insert, or_, select, update

from personvern.domain.errors import IntegrityBroken
from personvern.domain.outbox import STOPPED, OutboxRow, OutboxState
from personvern.domain.sms import Encoding, Message, MessageStatus
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert
from personvern.store.crypto import open_sealed, seal
from personvern.store.ids import among
from personvern.store.people import People
from personvern.store.repositories import KeyStore

CHUNK = 500  # bound on the number of parameters in one IN (...) list


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _outbox_aad(row_id: str) -> str:
    return f"outbox:{row_id}:personal"


class SqlOutbox:
    """The payload column holds `{"public": {...}, "sealed": "<base64>"}`; delivery removes "sealed" and its key.

    The personal part is sealed under a data key of the row's own, not the subject's: a row may have to
    outlive the subject (telling a processor to erase them), and deleting the row's key on delivery
    shreds the personal part in the database. (A backup taken before still holds the wrapped key, which
    today's master key opens, until the key store lives apart: README, "Keys and erasure".)
    """

    def __init__(self, conn: Connection, keys: KeyStore, people: People) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def enqueue(self, row: OutboxRow) -> None:
        self.enqueue_many([row])

    def enqueue_many(self, rows: Sequence[OutboxRow]) -> None:
        if not rows:
            return
        # One data key per row with a personal part (its own, not the subject's: see the class), made together.
        keys: dict[str, bytes] = {}
        for at in sorted({r.created_at for r in rows if r.personal}):
            keys |= self._keys.create([r.id for r in rows if r.personal and r.created_at == at], at)
        bulk = BulkInsert(self._conn)
        values = []
        for row in rows:
            payload: dict[str, Any] = {"public": dict(row.public)}
            if row.personal:
                personal = json.dumps(dict(row.personal), ensure_ascii=False)
                sealed = seal(AESGCM(keys[row.id]), _outbox_aad(row.id), personal)
                payload["sealed"] = base64.b64encode(sealed).decode("ascii")
            values.append(
                (
                    row.id,
                    row.kind,
                    row.subject_id,
                    row.id,
                    json.dumps(payload, ensure_ascii=False),
                    OutboxState.PENDING.value,
                    0,
                    bulk.instant(row.next_attempt_at),
                    bulk.instant(row.created_at),
                )
            )
        columns = ("id", "kind", "subject_id", "idempotency_key", "payload", "state", "attempts")
        bulk(t.outbox, (*columns, "next_attempt_at", "created_at"), values)

    def _row(self, r: Any, personal: Mapping[str, Any] | None = None) -> OutboxRow:
        payload = json.loads(r.payload) if r.payload else {}
        return OutboxRow(
            id=r.id,
            kind=r.kind,
            subject_id=r.subject_id,
            state=OutboxState(r.state),
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            public=payload.get("public", {}),
            personal=personal,
            lease_until=r.lease_until,
            last_error=r.last_error,
            result=json.loads(r.result) if r.result else None,
            delivered_at=r.delivered_at,
        )

    def get(self, row_id: str) -> OutboxRow | None:
        r = self._conn.execute(select(t.outbox).where(t.outbox.c.id == row_id)).first()
        return self._row(r) if r else None

    @staticmethod
    def _in_states(states: Collection[str], failed_only: bool) -> list[Any]:
        c = t.outbox.c
        where: list[Any] = [c.state.in_(list(states))]
        if failed_only:
            where.append(or_(c.last_error.is_(None), ~or_(*[c.last_error.startswith(p) for p in STOPPED])))
        return where

    def in_states(
        self, states: Collection[str], limit: int, offset: int = 0, failed_only: bool = False
    ) -> list[OutboxRow]:
        c = t.outbox.c
        q = select(t.outbox).where(*self._in_states(states, failed_only)).order_by(c.created_at, c.id)
        return [self._row(r) for r in self._conn.execute(q.limit(limit).offset(offset))]

    def count(self, states: Collection[str], failed_only: bool = False) -> int:
        return int(self._conn.scalar(select(func.count()).where(*self._in_states(states, failed_only))) or 0)

    def for_subject(self, subject_id: str) -> list[OutboxRow]:
        return [self._row(r) for r in self._people.activity(subject_id).outbox]

    def claim(
        self, due_by: datetime, now: datetime, lease_until: datetime, limit: int, skip_kinds: Collection[str] = ()
    ) -> list[OutboxRow]:
        c = t.outbox.c
        skipped = [c.kind.not_in(sorted(skip_kinds))] if skip_kinds else []
        q = (
            select(t.outbox)
            .where(
                c.state == OutboxState.PENDING.value,
                c.next_attempt_at <= due_by,
                or_(c.lease_until.is_(None), c.lease_until <= now),
                *skipped,
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
            # PostgreSQL: rows another worker is claiming right now are passed over, not waited for, so
            # workers on many machines share the queue. SQLite ignores it: BEGIN IMMEDIATE already
            # made this transaction the only writer.
            .with_for_update(skip_locked=True)
        )
        rows = list(self._conn.execute(q))
        if not rows:
            return []
        ids = [r.id for r in rows]
        self._conn.execute(update(t.outbox).where(c.id.in_(ids)).values(lease_until=lease_until))
        keys = self._keys.get(ids)
        return [
            replace(
                self._row(r, self._open(r, keys.get(r.id))),
                lease_until=lease_until,
                resumed=r.lease_until is not None,  # a lease left by a worker that never recorded an outcome
            )
            for r in rows
        ]

    def mark_waiting(self, kind: str, due_by: datetime, now: datetime, error: str) -> int:
        c = t.outbox.c
        done = self._conn.execute(
            update(t.outbox)
            .where(
                c.state == OutboxState.PENDING.value,
                c.kind == kind,
                c.next_attempt_at <= due_by,
                or_(c.lease_until.is_(None), c.lease_until <= now),
            )
            .values(last_error=error, lease_until=None)
        )
        return int(done.rowcount or 0)

    def next_attempt(self, after: datetime) -> datetime | None:
        c = t.outbox.c
        q = select(func.min(c.next_attempt_at)).where(c.state == OutboxState.PENDING.value, c.next_attempt_at > after)
        found: datetime | None = self._conn.scalar(q)
        return found

    def _open(self, r: Row[Any], key: bytes | None) -> dict[str, Any] | None:
        sealed = (json.loads(r.payload) if r.payload else {}).get("sealed")
        if sealed is None:
            return {}  # the row carries nothing personal (or no longer does)
        if key is None:
            return None
        try:
            data = json.loads(open_sealed(AESGCM(key), _outbox_aad(r.id), base64.b64decode(sealed)))
        except IntegrityBroken:
            return None
        return data if isinstance(data, dict) else None

    def _public_only(self, row_id: str) -> str:
        payload = self._conn.scalar(select(t.outbox.c.payload).where(t.outbox.c.id == row_id))
        public = (json.loads(payload) if payload else {}).get("public", {})
        return json.dumps({"public": public}, ensure_ascii=False)

    def mark_delivered(self, row_id: str, at: datetime, result: dict[str, Any]) -> bool:
        c = t.outbox.c
        done = self._conn.execute(
            update(t.outbox)
            .where(c.id == row_id, c.state == OutboxState.PENDING.value)
            .values(
                state=OutboxState.DELIVERED.value,
                payload=self._public_only(row_id),
                result=json.dumps(result, ensure_ascii=False),
                delivered_at=at,
                lease_until=None,
                last_error=None,
            )
        )
        if done.rowcount:
            self._keys.delete(row_id)  # crypto-shredding: the personal part is gone from the database
        return bool(done.rowcount)

    def _leased(self, row_id: str, lease: datetime | None) -> Any:
        c = t.outbox.c
        condition = (c.id == row_id) & (c.state == OutboxState.PENDING.value)
        return condition if lease is None else condition & (c.lease_until == lease)

    def mark_retry(
        self, row_id: str, lease: datetime | None, attempts: int, next_attempt_at: datetime, error: str
    ) -> bool:
        done = self._conn.execute(
            update(t.outbox)
            .where(self._leased(row_id, lease))
            .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error, lease_until=None)
        )
        return bool(done.rowcount)

    def mark_dead(self, row_id: str, lease: datetime | None, attempts: int, error: str) -> bool:
        done = self._conn.execute(
            update(t.outbox)
            .where(self._leased(row_id, lease))
            .values(state=OutboxState.DEAD.value, attempts=attempts, last_error=error, lease_until=None)
        )
        return bool(done.rowcount)

    def revive(self, row_id: str, at: datetime) -> bool:
        c = t.outbox.c
        done = self._conn.execute(
            update(t.outbox)
            .where(c.id == row_id, c.state == OutboxState.DEAD.value)
            .values(state=OutboxState.PENDING.value, attempts=0, next_attempt_at=at, lease_until=None)
        )
        return bool(done.rowcount)

    def cancel(self, row_id: str, error: str) -> bool:
        c = t.outbox.c
        done = self._conn.execute(
            update(t.outbox)
            .where(c.id == row_id, c.state == OutboxState.PENDING.value)
            .values(state=OutboxState.DEAD.value, payload=self._public_only(row_id), last_error=error, lease_until=None)
        )
        if done.rowcount:
            self._keys.delete(row_id)  # nothing left for `outbox retry` to send
        return bool(done.rowcount)

    def of_kinds(self, kinds: Collection[str]) -> list[OutboxRow]:
        c = t.outbox.c
        q = select(t.outbox).where(c.kind.in_(sorted(kinds))).order_by(c.created_at, c.id)
        return [self._row(r) for r in self._conn.execute(q)]

    def dead_with_personal(self) -> list[OutboxRow]:
        c = t.outbox.c
        # The LIKE narrows the scan to payloads that hold a sealed part (this module writes them); parsed below.
        q = (
            select(t.outbox)
            .where(c.state == OutboxState.DEAD.value, c.payload.like('%"sealed"%'))
            .order_by(c.created_at, c.id)
        )
        return [self._row(r) for r in self._conn.execute(q) if "sealed" in json.loads(r.payload or "{}")]

    def forget_dead(self, notes: Mapping[str, str], marks: Mapping[str, Any]) -> list[str]:
        c = t.outbox.c
        done: list[str] = []
        for row_id, note in notes.items():
            payload = self._conn.scalar(
                select(c.payload).where(c.id == row_id, c.state == OutboxState.DEAD.value).with_for_update()
            )
            if payload is None:
                continue  # retried (or gone) meanwhile
            public = {**(json.loads(payload) or {}).get("public", {}), **marks}
            self._conn.execute(
                update(t.outbox)
                .where(c.id == row_id)
                .values(payload=json.dumps({"public": public}, ensure_ascii=False), last_error=note)
            )
            done.append(row_id)
        self._keys.delete_many(done)
        return done

    def for_subjects(self, subject_ids: Collection[str], kind: str) -> dict[str, list[OutboxRow]]:
        one = self._people.one(subject_ids)
        if one is not None:
            rows = [row for row in self.for_subject(one) if row.kind == kind]
            return {one: rows} if rows else {}
        c = t.outbox.c
        out: dict[str, list[OutboxRow]] = {}
        for chunk in _chunks(sorted(subject_ids)):
            q = (
                select(t.outbox)
                .where(among(self._conn, c.subject_id, chunk), c.kind == kind)
                .order_by(c.created_at, c.id)
            )
            for r in self._conn.execute(q):
                out.setdefault(r.subject_id, []).append(self._row(r))
        return out

    def forget_subject(self, subject_id: str, error: str) -> int:
        return self.forget_subjects([subject_id], error).get(subject_id, 0)

    def forget_subjects(self, subject_ids: Collection[str], error: str) -> dict[str, int]:
        c = t.outbox.c
        stopped: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        one = self._people.one(subject_ids)
        known = self._people.cached_activity(one) if one is not None else None
        for chunk in _chunks(sorted(subject_ids)):
            q = select(c.id, c.subject_id, c.payload).where(
                among(self._conn, c.subject_id, chunk), c.state != OutboxState.DELIVERED.value
            )
            found = (
                self._conn.execute(q)
                if known is None  # else read in this transaction already, and nothing written since
                else [(r.id, r.subject_id, r.payload) for r in known.outbox if r.state != OutboxState.DELIVERED.value]
            )
            for row_id, sid, payload in found:
                public = (json.loads(payload) if payload else {}).get("public", {})
                rows.append({"row_id": row_id, "public_only": json.dumps({"public": public}, ensure_ascii=False)})
                stopped[sid] = stopped.get(sid, 0) + 1
        if rows:
            # Few rows (most people have none undelivered): one statement, executed for each.
            self._conn.execute(
                update(t.outbox)
                .where(c.id == bindparam("row_id"))
                .values(
                    state=OutboxState.DEAD.value, payload=bindparam("public_only"), last_error=error, lease_until=None
                ),
                rows,
            )
            self._keys.delete_many([r["row_id"] for r in rows])
        return stopped


def _message_aad(message: str, subject_id: str) -> str:
    return f"{subject_id}:message:{message}"


class SqlMessages:
    def __init__(self, conn: Connection, keys: KeyStore, people: People) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def add(self, message: Message, text: str) -> None:
        cipher = self._keys.cipher(message.subject_id)
        self._conn.execute(
            insert(t.messages).values(
                id=message.id,
                subject_id=message.subject_id,
                outbox_id=message.outbox_id,
                channel=message.channel,
                purpose=message.purpose,
                created_at=message.created_at,
                segments=message.segments,
                encoding=message.encoding.value,
                text_ct=seal(cipher, _message_aad(message.id, message.subject_id), text),
                vendor_message_id=message.vendor_message_id,
                status=message.status.value,
                result_code=message.result_code,
                status_text=message.status_text,
                updated_at=message.updated_at,
            )
        )

    @staticmethod
    def _message(r: Any) -> Message:
        return Message(
            id=r.id,
            subject_id=r.subject_id,
            outbox_id=r.outbox_id,
            channel=r.channel,
            purpose=r.purpose,
            created_at=r.created_at,
            segments=r.segments,
            encoding=Encoding(r.encoding),
            status=MessageStatus(r.status),
            updated_at=r.updated_at,
            vendor_message_id=r.vendor_message_id,
            result_code=r.result_code,
            status_text=r.status_text,
        )

    def get(self, message_id: str) -> Message | None:
        r = self._conn.execute(select(t.messages).where(t.messages.c.id == message_id)).first()
        return self._message(r) if r else None

    def for_outbox(self, outbox_id: str) -> Message | None:
        r = self._conn.execute(select(t.messages).where(t.messages.c.outbox_id == outbox_id)).first()
        return self._message(r) if r else None

    def for_subject(self, subject_id: str) -> list[Message]:
        return [self._message(r) for r in self._people.activity(subject_id).messages]

    @staticmethod
    def _matching(q: Any, subject_id: str | None, status: MessageStatus | None, since: datetime | None) -> Any:
        c = t.messages.c
        if subject_id is not None:
            q = q.where(c.subject_id == subject_id)
        if status is not None:
            q = q.where(c.status == status.value)
        if since is not None:
            q = q.where(c.created_at >= since)
        return q

    def listing(
        self, subject_id: str | None, status: MessageStatus | None, since: datetime | None, limit: int, offset: int
    ) -> list[Message]:
        c = t.messages.c
        q = self._matching(select(t.messages), subject_id, status, since)
        q = q.order_by(c.created_at.desc(), c.id.desc()).limit(limit).offset(offset)
        return [self._message(r) for r in self._conn.execute(q)]

    def count(self, subject_id: str | None, status: MessageStatus | None, since: datetime | None) -> int:
        q = self._matching(select(func.count()).select_from(t.messages), subject_id, status, since)
        return int(self._conn.scalar(q) or 0)

    def drop_texts_before(self, cutoff: datetime) -> int:
        return int(self._conn.execute(drop_texts_statement(cutoff)).rowcount or 0)

    def text(self, message_id: str) -> str | None:
        r = self._conn.execute(
            select(t.messages.c.subject_id, t.messages.c.text_ct).where(t.messages.c.id == message_id)
        ).first()
        if r is None or r.text_ct is None:
            return None
        key = self._keys.get([r.subject_id]).get(r.subject_id)
        if key is None:
            return None
        return open_sealed(AESGCM(key), _message_aad(message_id, r.subject_id), r.text_ct)

    def set_status(
        self,
        message_id: str,
        status: MessageStatus,
        at: datetime,
        *,
        vendor_message_id: str | None = None,
        result_code: int | None = None,
        status_text: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status.value,
            "updated_at": at,
            "result_code": result_code,
            "status_text": status_text,
        }
        if vendor_message_id is not None:
            values["vendor_message_id"] = vendor_message_id
        self._conn.execute(update(t.messages).where(t.messages.c.id == message_id).values(**values))


def drop_texts_statement(cutoff: datetime) -> Update:
    """Texts older than the cutoff dropped; its condition is `ix_messages_text_held`'s, so only held texts are read."""
    c = t.messages.c
    return update(t.messages).where(c.created_at < cutoff, c.text_ct.is_not(None)).values(text_ct=None)
