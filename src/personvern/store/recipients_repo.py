"""SQL storage of what recipients must confirm per request, of accounting exports, and of reconciliations."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update
from sqlalchemy.engine import Row

from personvern.domain.confirmations import Confirmation, ConfirmationState, ConfirmBy
from personvern.domain.reconcile import Finding, Found, Reconciliation
from personvern.services.ports import Disclosed, ExportRecord
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert

CHUNK = 500  # bound on the number of parameters in one IN (...) list


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlConfirmations:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, confirmations: Sequence[Confirmation]) -> None:
        if confirmations:
            self._conn.execute(insert(t.recipient_confirmations), [self._columns(c) for c in confirmations])

    @staticmethod
    def _columns(c: Confirmation) -> dict[str, Any]:
        return {
            "id": c.id,
            "request_id": c.request_id,
            "subject_id": c.subject_id,
            "recipient": c.recipient,
            "action": c.action[:200],
            "detail": c.detail[:300],
            "fields": json.dumps(list(c.fields)),
            "confirm_by": c.confirm_by.value,
            "state": c.state.value,
            "outbox_id": c.outbox_id,
            "due_on": c.due_on,
            "created_at": c.created_at,
            "confirmed_at": c.confirmed_at,
            "confirmed_by": c.confirmed_by,
            "note": c.note,
        }

    @staticmethod
    def _of(r: Row[Any]) -> Confirmation:
        return Confirmation(
            id=r.id,
            request_id=r.request_id,
            subject_id=r.subject_id,
            recipient=r.recipient,
            action=r.action,
            confirm_by=ConfirmBy(r.confirm_by),
            state=ConfirmationState(r.state),
            created_at=r.created_at,
            detail=r.detail,
            fields=tuple(json.loads(r.fields)),
            outbox_id=r.outbox_id,
            due_on=r.due_on,
            confirmed_at=r.confirmed_at,
            confirmed_by=r.confirmed_by,
            note=r.note,
        )

    def get(self, confirmation_id: str, lock: bool = False) -> Confirmation | None:
        q = select(t.recipient_confirmations).where(t.recipient_confirmations.c.id == confirmation_id)
        if lock:
            q = q.with_for_update()  # PostgreSQL: two closers of one task take turns (SQLite has one writer)
        r = self._conn.execute(q).first()
        return self._of(r) if r else None

    def save(self, confirmation: Confirmation) -> None:
        c = t.recipient_confirmations.c
        self._conn.execute(
            update(t.recipient_confirmations)
            .where(c.id == confirmation.id)
            .values(
                state=confirmation.state.value,
                due_on=confirmation.due_on,
                confirmed_at=confirmation.confirmed_at,
                confirmed_by=confirmation.confirmed_by,
                note=confirmation.note,
            )
        )

    def for_request(self, request_id: str) -> list[Confirmation]:
        c = t.recipient_confirmations.c
        q = select(t.recipient_confirmations).where(c.request_id == request_id).order_by(c.recipient, c.id)
        return [self._of(r) for r in self._conn.execute(q)]

    def for_outbox(self, outbox_id: str) -> list[Confirmation]:
        c = t.recipient_confirmations.c
        q = select(t.recipient_confirmations).where(c.outbox_id == outbox_id).order_by(c.id)
        return [self._of(r) for r in self._conn.execute(q)]

    def in_states(self, states: Collection[ConfirmationState], limit: int) -> list[Confirmation]:
        c = t.recipient_confirmations.c
        q = (
            select(t.recipient_confirmations)
            .where(c.state.in_([s.value for s in states]))
            .order_by(case((c.due_on.is_(None), 1), else_=0), c.due_on, c.created_at, c.id)
            .limit(limit)
        )
        return [self._of(r) for r in self._conn.execute(q)]


class SqlExports:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, export: ExportRecord, people: Mapping[str, Sequence[str]]) -> None:
        self._conn.execute(
            insert(t.exports).values(
                id=export.id,
                kind=export.kind,
                recipient=export.recipient,
                at=export.at,
                actor=export.actor,
                role=export.role,
                subjects=export.subjects,
                fields=json.dumps(list(export.fields)),
                sha256=export.sha256,
            )
        )
        # One row per person: a whole register exported is a bulk write, not a statement per person.
        rows = [(export.id, sid, json.dumps(list(fields))) for sid, fields in people.items()]
        BulkInsert(self._conn)(t.export_subjects, ("export_id", "subject_id", "fields"), rows)

    @staticmethod
    def _of(r: Row[Any], fields: str | None = None) -> ExportRecord:
        held = tuple(json.loads(fields if fields is not None else r.fields))
        return ExportRecord(r.id, r.kind, r.recipient, r.at, r.actor, r.role, r.subjects, held, r.sha256)

    def for_subject(self, subject_id: str) -> list[ExportRecord]:
        e, s = t.exports.c, t.export_subjects.c
        q = (
            select(t.exports, s.fields.label("person_fields"))
            .join(t.export_subjects, s.export_id == e.id)
            .where(s.subject_id == subject_id)
            .order_by(e.at, e.id)
        )
        return [self._of(r, r.person_fields) for r in self._conn.execute(q)]

    def recipients_of(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        e, s = t.exports.c, t.export_subjects.c
        out: dict[str, set[str]] = {}
        for chunk in _chunks(sorted(set(subject_ids))):
            q = (
                select(s.subject_id, e.recipient)
                .join(t.exports, e.id == s.export_id)
                .where(s.subject_id.in_(list(chunk)))
                .distinct()
            )
            for sid, recipient in self._conn.execute(q):
                out.setdefault(sid, set()).add(recipient)
        return out

    def figures(self) -> list[Disclosed]:
        e = t.exports.c
        q = (
            select(e.kind, e.recipient, func.sum(e.subjects), func.max(e.at))
            .group_by(e.kind, e.recipient)
            .order_by(e.kind, e.recipient)
        )
        return [Disclosed(kind, to, int(n or 0), last) for kind, to, n, last in self._conn.execute(q)]


class SqlReconciliations:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save(self, run: Reconciliation) -> None:
        values = {
            "recipient": run.recipient,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "actor": run.actor,
            "fix": run.fix,
            "complete": run.complete,
            "pages": run.pages,
            "contacts": run.contacts,
            "fixed": run.fixed,
            "counts": json.dumps(run.counts, sort_keys=True),
            "findings": json.dumps([f.as_record() for f in run.findings]),
            "error": run.error,
        }
        c = t.reconciliations.c
        done = self._conn.execute(update(t.reconciliations).where(c.id == run.id).values(**values))
        if not done.rowcount:
            self._conn.execute(insert(t.reconciliations).values(id=run.id, **values))

    def last(self, recipient: str) -> Reconciliation | None:
        c = t.reconciliations.c
        r = self._conn.execute(
            select(t.reconciliations)
            .where(c.recipient == recipient)
            .order_by(c.started_at.desc(), c.id.desc())
            .limit(1)
        ).first()
        if r is None:
            return None
        run = Reconciliation(
            id=r.id,
            recipient=r.recipient,
            started_at=r.started_at,
            actor=r.actor,
            fix=bool(r.fix),
            finished_at=r.finished_at,
            complete=bool(r.complete),
            pages=r.pages,
            contacts=r.contacts,
            counts=json.loads(r.counts),
            fixed=r.fixed,
            error=r.error,
        )
        run.findings = [
            Found(
                Finding(f["finding"]),
                f.get("external_id"),
                f.get("subject_id"),
                bool(f.get("pending")),
                f.get("fixed_by"),
            )
            for f in json.loads(r.findings)
        ]
        return run
