"""SQL consent ledger, objections and restrictions, and the marketing audience as one set-based query."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Select, and_, exists, func, insert, literal, or_, select, update

from personvern.domain.consent import Block, BlockKind, ConsentAction, ConsentEvent, ConsentMethod
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert
from personvern.store.crypto import open_sealed, seal
from personvern.store.people import People, block_rows, consent_rows
from personvern.store.repositories import CHUNK, KeyStore

_E = t.consent_events.c
_B = t.subject_blocks.c
SEALED = "sealed:"  # marks a reason stored as base64 of its AES-GCM ciphertext


def audience_query(purpose: str, channel: str) -> Select[tuple[str]]:
    """The ids of the subjects that marketing for `purpose` on `channel` may reach now, in no particular order.

    The same rule as `domain.consent.marketing_block_reason`, as one statement: the subject's latest event
    for (purpose, channel) is a consent, nothing restricts the subject (Art. 18), and no objection to the
    purpose is active or was set at or after that consent (Art. 21(3)). Erased subjects have no events
    (their ledger goes with them). The latest event is found with NOT EXISTS on a later one, a probe of the
    covering index `ix_consent_events_audience`. Measured at 200 000 subjects, a count takes 0.15-0.22 s on
    SQLite (a window function: 0.32-0.45 s) and 0.17-0.24 s on PostgreSQL (a window function: 0.14 s); only
    the NOT EXISTS form stays under a second at 1 000 000 subjects on SQLite (0.79 s; window 1.6-2.1 s).
    """
    e = t.consent_events.alias("e")
    later = t.consent_events.alias("later")
    b = t.subject_blocks.alias("b")
    newer = select(literal(1)).where(
        later.c.purpose == purpose,
        later.c.channel == channel,
        later.c.subject_id == e.c.subject_id,
        # `at >=` is a range on the index; the OR then breaks ties by id, as `ConsentEvent.order` does.
        later.c.at >= e.c.at,
        or_(later.c.at > e.c.at, later.c.id > e.c.id),
    )
    blocked = select(literal(1)).where(
        b.c.subject_id == e.c.subject_id,
        or_(
            and_(b.c.kind == BlockKind.RESTRICTION.value, b.c.lifted_at.is_(None)),
            and_(
                b.c.kind == BlockKind.OBJECTION.value,
                b.c.purpose == purpose,
                or_(b.c.lifted_at.is_(None), b.c.set_at >= e.c.at),
            ),
        ),
    )
    return select(e.c.subject_id).where(
        e.c.purpose == purpose,
        e.c.channel == channel,
        e.c.action == ConsentAction.GIVEN.value,
        ~exists(newer),
        ~exists(blocked),
    )


def _event(row: Any, proof: str | None = None) -> ConsentEvent:
    """A ledger row as an event; an imported proof stays sealed unless the caller opened it (`proof`)."""
    return ConsentEvent(
        row.id,
        row.subject_id,
        row.purpose,
        row.channel,
        ConsentAction(row.action),
        row.at,
        ConsentMethod(row.method),
        row.recorded_by,
        row.role,
        row.notice_sha256,
        proof,
    )


def _proof_aad(subject_id: str, event_id: str) -> str:
    return f"{subject_id}:consent:{event_id}:proof"


class SqlConsents:
    def __init__(self, conn: Connection, keys: KeyStore, people: People | None = None) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def append(self, event: ConsentEvent) -> None:
        self.append_many([event])

    def append_many(self, events: Sequence[ConsentEvent]) -> None:
        """Append events (an import's, many at once); a proof note is sealed under its subject's key."""
        if not events:
            return
        owners = sorted({e.subject_id for e in events if e.proof is not None})
        ciphers = {sid: AESGCM(key) for sid, key in self._keys.get(owners).items()} if owners else {}
        bulk = BulkInsert(self._conn)
        rows = []
        for e in events:
            proof = None if e.proof is None else seal(ciphers[e.subject_id], _proof_aad(e.subject_id, e.id), e.proof)
            rows.append(
                (
                    e.id,
                    e.subject_id,
                    e.purpose,
                    e.channel,
                    e.action.value,
                    bulk.instant(e.at),
                    e.method.value,
                    e.recorded_by,
                    e.role,
                    e.notice_sha256,
                    proof,
                )
            )
        columns = ("id", "subject_id", "purpose", "channel", "action", "at", "method", "recorded_by", "role")
        bulk(t.consent_events, (*columns, "notice_sha256", "proof_ct"), rows)

    def _events(self, rows: Sequence[Any]) -> list[ConsentEvent]:
        sealed = sorted({r.subject_id for r in rows if r.proof_ct is not None})
        ciphers = {sid: AESGCM(key) for sid, key in self._keys.get(sealed).items()} if sealed else {}
        return [
            _event(
                r,
                None
                if r.proof_ct is None
                else open_sealed(ciphers[r.subject_id], _proof_aad(r.subject_id, r.id), r.proof_ct),
            )
            for r in rows
        ]

    def get(self, event_id: str) -> ConsentEvent | None:
        row = self._conn.execute(select(t.consent_events).where(_E.id == event_id)).first()
        return self._events([row])[0] if row is not None else None

    def for_subject(self, subject_id: str) -> list[ConsentEvent]:
        if self._people is not None:
            # An imported proof note is opened with the subject's key (read only when the person has one).
            return self._events(consent_rows(self._people.get(subject_id)))
        q = select(t.consent_events).where(_E.subject_id == subject_id).order_by(_E.at, _E.id)
        return self._events(list(self._conn.execute(q)))

    def latest(self, subject_id: str, purpose: str, channel: str) -> ConsentEvent | None:
        q = (
            select(t.consent_events)
            .where(_E.subject_id == subject_id, _E.purpose == purpose, _E.channel == channel)
            .order_by(_E.at.desc(), _E.id.desc())
            .limit(1)
        )
        row = self._conn.execute(q).first()
        return self._events([row])[0] if row is not None else None

    def audience_count(self, purpose: str, channel: str) -> int:
        q = select(func.count()).select_from(audience_query(purpose, channel).subquery())
        return int(self._conn.scalar(q) or 0)

    def audience_page(self, purpose: str, channel: str, limit: int, offset: int) -> list[str]:
        q = audience_query(purpose, channel)
        subject_id = q.selected_columns[0]
        return list(self._conn.scalars(q.order_by(subject_id).limit(limit).offset(offset)))

    def read_field(self, subject_ids: Sequence[str], field: str) -> dict[str, str]:
        # Only this field of only these subjects is decrypted: what the page shows, nothing more (Art. 5(1)(c)).
        keys = self._keys.get(list(subject_ids))
        out: dict[str, str] = {}
        v = t.subject_values.c
        ids = list(subject_ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = self._conn.execute(
                select(v.subject_id, v.ciphertext).where(v.subject_id.in_(chunk), v.field == field)
            )
            for sid, blob in rows:
                out[sid] = open_sealed(AESGCM(keys[sid]), f"{sid}:{field}", blob)
        return out


class SqlBlocks:
    """Objections and restrictions. Their free-text reasons may say anything about the person, so they are
    sealed under the subject's data key like every other personal value, and go with it on erasure."""

    def __init__(self, conn: Connection, keys: KeyStore, people: People) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def _cipher(self, subject_id: str) -> AESGCM:
        return self._keys.cipher(subject_id)

    def _seal(self, block: Block, name: str, text: str | None) -> str | None:
        if text is None:
            return None
        blob = seal(self._cipher(block.subject_id), f"{block.subject_id}:block:{block.id}:{name}", text)
        return SEALED + base64.b64encode(blob).decode("ascii")

    def _open(self, cipher: AESGCM, row: Any, name: str) -> str | None:
        stored: str | None = getattr(row, name)
        if stored is None or not stored.startswith(SEALED):
            return stored
        blob = base64.b64decode(stored[len(SEALED) :])
        return open_sealed(cipher, f"{row.subject_id}:block:{row.id}:{name}", blob)

    def add(self, block: Block) -> None:
        self._conn.execute(
            insert(t.subject_blocks).values(
                id=block.id,
                subject_id=block.subject_id,
                kind=block.kind.value,
                purpose=block.purpose,
                set_at=block.set_at,
                set_by=block.set_by,
                reason=self._seal(block, "reason", block.reason),
                lifted_at=block.lifted_at,
                lifted_by=block.lifted_by,
                lift_reason=self._seal(block, "lift_reason", block.lift_reason),
            )
        )

    def for_subject(self, subject_id: str) -> list[Block]:
        rows = block_rows(self._people.get(subject_id))
        if not rows:
            return []
        cipher = self._cipher(subject_id)
        return [
            Block(
                row.id,
                row.subject_id,
                BlockKind(row.kind),
                row.purpose,
                row.set_at,
                row.set_by,
                self._open(cipher, row, "reason"),
                row.lifted_at,
                row.lifted_by,
                self._open(cipher, row, "lift_reason"),
            )
            for row in rows
        ]

    def lift(self, block: Block) -> None:
        self._conn.execute(
            update(t.subject_blocks)
            .where(_B.id == block.id)
            .values(
                lifted_at=block.lifted_at,
                lifted_by=block.lifted_by,
                lift_reason=self._seal(block, "lift_reason", block.lift_reason),
            )
        )
