"""SQL breach register: breaches, the subjects each affected (by id), and the notifications made."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, insert, select, update

from personvern.domain.breaches import Breach, Notification, Phase, Recipient, Risk
from personvern.store import tables as t

_FACTS = (
    "description",
    "cause",
    "occurred_at",
    "occurred_until",
    "discovered_at",
    "relation",
    "people",
    "records",
    "consequences",
    "measures_taken",
    "measures_planned",
    "data_location",
    "contact",
    "risk_reason",
    "updated_at",
)


def _facts(breach: Breach) -> dict[str, Any]:
    values = {name: getattr(breach, name) for name in _FACTS}
    values["deadline_at"] = breach.deadline
    values["categories"] = json.dumps(list(breach.categories), ensure_ascii=False)
    values["risk"] = breach.risk.value if breach.risk is not None else None
    return values


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        breach_id=row.breach_id,
        recipient=Recipient(row.recipient),
        at=row.at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        phase=Phase(row.phase) if row.phase else None,
        reference=row.reference,
        late_reason=row.late_reason,
        content=row.content,
        outcome=json.loads(row.outcome) if row.outcome else {},
    )


class SqlBreaches:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, breach: Breach) -> None:
        self._conn.execute(
            insert(t.breaches).values(
                id=breach.id, recorded_at=breach.recorded_at, recorded_by=breach.recorded_by, **_facts(breach)
            )
        )
        self._add_subjects(breach.id, breach.subject_ids)

    def _add_subjects(self, breach_id: str, subject_ids: tuple[str, ...]) -> None:
        if subject_ids:
            self._conn.execute(
                insert(t.breach_subjects), [{"breach_id": breach_id, "subject_id": s} for s in subject_ids]
            )

    def update(self, breach: Breach) -> None:
        self._conn.execute(update(t.breaches).where(t.breaches.c.id == breach.id).values(**_facts(breach)))
        c = t.breach_subjects.c
        held = set(self._conn.execute(select(c.subject_id).where(c.breach_id == breach.id)).scalars())
        self._add_subjects(breach.id, tuple(s for s in breach.subject_ids if s not in held))

    def get(self, breach_id: str) -> Breach | None:
        found = self._load(t.breaches.c.id == breach_id)
        return found[0] if found else None

    def all(self) -> list[Breach]:
        return self._load(None)

    def _load(self, where: Any) -> list[Breach]:
        b = t.breaches.c
        q = select(t.breaches).order_by(b.discovered_at.desc(), b.id)
        if where is not None:
            q = q.where(where)
        rows = list(self._conn.execute(q))
        if not rows:
            return []
        ids = [r.id for r in rows]
        subjects: dict[str, list[str]] = defaultdict(list)
        s = t.breach_subjects.c
        for breach_id, subject_id in self._conn.execute(
            select(s.breach_id, s.subject_id).where(s.breach_id.in_(ids)).order_by(s.breach_id, s.subject_id)
        ):
            subjects[breach_id].append(subject_id)
        told: dict[str, list[Notification]] = defaultdict(list)
        n = t.breach_notifications.c
        for row in self._conn.execute(select(t.breach_notifications).where(n.breach_id.in_(ids)).order_by(n.at, n.id)):
            told[row.breach_id].append(_notification(row))
        return [
            Breach(
                id=r.id,
                description=r.description,
                discovered_at=r.discovered_at,
                recorded_at=r.recorded_at,
                recorded_by=r.recorded_by,
                updated_at=r.updated_at,
                occurred_at=r.occurred_at,
                occurred_until=r.occurred_until,
                cause=r.cause,
                categories=tuple(json.loads(r.categories)),
                relation=r.relation,
                people=r.people,
                records=r.records,
                consequences=r.consequences,
                measures_taken=r.measures_taken,
                measures_planned=r.measures_planned,
                data_location=r.data_location,
                contact=r.contact,
                risk=Risk(r.risk) if r.risk else None,
                risk_reason=r.risk_reason,
                subject_ids=tuple(subjects[r.id]),
                notifications=tuple(told[r.id]),
            )
            for r in rows
        ]

    def notify(self, notification: Notification) -> None:
        self._conn.execute(
            insert(t.breach_notifications).values(
                id=notification.id,
                breach_id=notification.breach_id,
                recipient=notification.recipient.value,
                phase=notification.phase.value if notification.phase else None,
                at=notification.at,
                recorded_at=notification.recorded_at,
                recorded_by=notification.recorded_by,
                reference=notification.reference,
                late_reason=notification.late_reason,
                content=notification.content,
                outcome=json.dumps(dict(notification.outcome), ensure_ascii=False, sort_keys=True),
            )
        )
