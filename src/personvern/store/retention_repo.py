"""SQL side of retention: the facts a decision needs, each subject's stored schedule, reviews and sweeps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, or_, select, tuple_, update

from personvern.domain.consent import Block, BlockKind
from personvern.domain.erasure import ErasureCause
from personvern.domain.requests import OPEN_STATES, RequestType
from personvern.domain.retention import Action, Facts, Schedule
from personvern.domain.subjects import Relationship, RelationshipType
from personvern.policy.schema import Policy
from personvern.services.ports import ArchivedEntry, ReviewRecord, Scheduled
from personvern.store import tables as t
from personvern.store.consent_repo import _event
from personvern.store.ids import among
from personvern.store.people import People, block_rows, consent_rows, organisation_rows, relationship_rows
from personvern.store.repositories import SCHEDULE_COLUMNS, schedule_values

CHUNK = 500  # bound on the number of parameters in one IN (...) list

_S = t.subjects.c
_R = t.relationships.c


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _relationship(r: Any) -> Relationship:
    # The description is personal data and no retention rule reads it: it stays sealed.
    return Relationship(r.id, r.subject_id, RelationshipType(r.type), r.started_on, r.ends_on, r.ended_on)


def _erase_for_good(causes: set[str], action: str | None) -> bool:
    """A person who asked for erasure, or whose record was due for erasure when its holds were kept, stays so.

    Erasure drops the objection that made the action erasure (the blocks go with the rest), so the action
    stored before it is what remembers it.
    """
    return ErasureCause.REQUEST.value in causes or (bool(causes) and action == Action.ERASE.value)


def _schedule(row: Any) -> Schedule | None:
    if row.retention_at is None or row.retain_action is None:
        return None
    fields = frozenset(row.hold_fields.split(",")) if row.hold_fields is not None else None
    return Schedule(row.retain_until, Action(row.retain_action), row.retain_rule or "none", row.hold_until, fields)


_SCHEDULE_COLUMNS = (
    _S.id,
    _S.kind,
    _S.retain_until,
    _S.retain_action,
    _S.retain_rule,
    _S.hold_until,
    _S.hold_fields,
    _S.retention_at,
)


def _scheduled(row: Any) -> Scheduled:
    return Scheduled(row.id, row.kind, _schedule(row))


def due_query(
    today: date, after: tuple[date, str] | None, limit: int, dialect: str, columns: Sequence[Any] = _SCHEDULE_COLUMNS
) -> Select[Any]:
    """Subjects due by `today`, a page after `after`: a range scan on ix_subjects_retain_until, no sort."""
    q = select(*columns).where(_S.retain_until <= today)
    if after is not None:
        # Keyset paging on (retain_until, id): PostgreSQL takes the row comparison as an index bound.
        q = q.where(
            tuple_(_S.retain_until, _S.id) > tuple_(after[0], after[1])
            if dialect == "postgresql"
            else or_(_S.retain_until > after[0], and_(_S.retain_until == after[0], _S.id > after[1]))
        )
    return q.order_by(_S.retain_until, _S.id).limit(limit)


class SqlRetention:
    def __init__(self, conn: Connection, policy: Policy, people: People) -> None:
        self._conn = conn
        self._business = sorted(k for k, spec in policy.kinds.items() if spec.business)
        self._people = people

    # -- facts
    def facts(self, subject_ids: Collection[str]) -> dict[str, Facts]:
        one = self._people.one(subject_ids)
        if one is not None:
            return self._facts_of(one)
        out: dict[str, Facts] = {}
        organisation = self.organisation_relationships(subject_ids)
        for chunk in _chunks(sorted(subject_ids)):
            heads = list(
                self._conn.execute(
                    select(_S.id, _S.kind, _S.received_at, _S.retain_action).where(among(self._conn, _S.id, chunk))
                )
            )
            if not heads:
                continue
            rels: dict[str, dict[str, Relationship]] = defaultdict(dict)
            for r in self._conn.execute(select(t.relationships).where(among(self._conn, _R.subject_id, chunk))):
                rels[r.subject_id][r.id] = _relationship(r)
            for sid in chunk:
                for rel in organisation.get(sid, ()):
                    rels[sid].setdefault(rel.id, rel)
            consents = defaultdict(list)
            c = t.consent_events.c
            for row in self._conn.execute(select(t.consent_events).where(among(self._conn, c.subject_id, chunk))):
                consents[row.subject_id].append(_event(row))
            blocks = defaultdict(list)
            b = t.subject_blocks.c
            q = select(b.id, b.subject_id, b.kind, b.purpose, b.set_at, b.set_by, b.lifted_at, b.lifted_by)
            for row in self._conn.execute(q.where(among(self._conn, b.subject_id, chunk))):
                # The free-text reasons stay sealed: the engine needs only what kind of block, and when.
                blocks[row.subject_id].append(
                    Block(
                        row.id,
                        row.subject_id,
                        BlockKind(row.kind),
                        row.purpose,
                        row.set_at,
                        row.set_by,
                        None,
                        row.lifted_at,
                        row.lifted_by,
                    )
                )
            requests: dict[str, set[str]] = defaultdict(set)
            rq = t.requests.c
            open_ = [s.value for s in OPEN_STATES]
            for sid, type_ in self._conn.execute(
                select(rq.subject_id, rq.type).where(among(self._conn, rq.subject_id, chunk), rq.state.in_(open_))
            ):
                requests[sid].add(type_)
            receipts: dict[str, set[str]] = defaultdict(set)
            e = t.erasure_receipts.c
            for sid, cause in self._conn.execute(
                select(e.subject_id, e.cause).where(among(self._conn, e.subject_id, chunk))
            ):
                receipts[sid].add(cause)
            for head in heads:
                sid = head.id
                out[sid] = Facts(
                    head.kind,
                    head.received_at,
                    sorted(rels[sid].values(), key=lambda r: (r.started_on, r.id)),
                    sorted(consents[sid], key=lambda e: e.order),
                    sorted(blocks[sid], key=lambda x: (x.set_at, x.id)),
                    open_request=bool(requests[sid]),
                    erasure_requested=RequestType.ERASURE.value in requests[sid]
                    or _erase_for_good(receipts[sid], head.retain_action),
                    erased=bool(receipts[sid]),
                )
        return out

    def _facts_of(self, subject_id: str) -> dict[str, Facts]:
        """One subject's facts from its person's read (one statement), as the batch read gives them."""
        person = self._people.get(subject_id)
        head = person.subject
        if head is None:
            return {}
        rels: dict[str, Relationship] = {
            rid: Relationship(rid, subject_id, RelationshipType(kind), started, ends, ended)
            for rid, kind, started, ends, ended, _blob in relationship_rows(person)
        }
        for rid, sid, kind, started, ends, ended in organisation_rows(person):
            rels.setdefault(rid, Relationship(rid, sid, RelationshipType(kind), started, ends, ended))
        blocks = [
            Block(row.id, subject_id, BlockKind(row.kind), row.purpose, row.set_at, row.set_by, None,
                  row.lifted_at, row.lifted_by)
            for row in block_rows(person)
        ]  # fmt: skip
        requests, causes = person.open_requests, person.erasure_causes
        return {
            subject_id: Facts(
                head.kind,
                head.received_at,
                sorted(rels.values(), key=lambda r: (r.started_on, r.id)),
                [_event(row) for row in consent_rows(person)],
                blocks,
                open_request=bool(requests),
                erasure_requested=RequestType.ERASURE.value in requests or _erase_for_good(causes, head.retain_action),
                erased=bool(causes),
            )
        }

    def organisation_relationships(self, subject_ids: Collection[str]) -> dict[str, list[Relationship]]:
        if not self._business:
            return {}
        # First the organisations of them all, then each one's orders and contracts once: a big organisation
        # costs a walk over its members once per call (a sweep's batch, an import's), not once per chunk.
        members: dict[str, str] = {}
        for chunk in _chunks(sorted(subject_ids)):
            q = select(_S.id, _S.organisation_id).where(
                # A plain IN list on the primary key: with json_each here SQLite's planner walked the kind
                # index (~400k rows at 1M), making one access package take 0.7 s.
                _S.id.in_(chunk),
                _S.kind.in_(self._business),
                _S.organisation_id.is_not(None),
            )
            members.update((sid, org) for sid, org in self._conn.execute(q))
        by_org: dict[str, list[Relationship]] = defaultdict(list)
        peer = t.subjects.alias("peer")
        for orgs in _chunks(sorted(set(members.values()))):
            q = (
                select(peer.c.organisation_id.label("org"), t.relationships)
                .select_from(peer)
                .join(t.relationships, _R.subject_id == peer.c.id)
                .where(peer.c.organisation_id.in_(orgs))
            )
            for row in self._conn.execute(q):
                by_org[row.org].append(_relationship(row))
        return {sid: by_org[org] for sid, org in members.items() if by_org.get(org)}

    def peers(self, subject_ids: Collection[str]) -> set[str]:
        if not self._business:
            return set()
        me = t.subjects.alias("me")
        peer = t.subjects.alias("peer")
        found: set[str] = set()
        for chunk in _chunks(sorted(subject_ids)):
            q = (
                select(peer.c.id)
                .select_from(me)
                .join(peer, peer.c.organisation_id == me.c.organisation_id)
                .where(me.c.id.in_(chunk), me.c.organisation_id.is_not(None), peer.c.kind.in_(self._business))
            )
            found.update(self._conn.scalars(q))
        return found

    # -- the stored schedule
    def save(self, schedules: Mapping[str, Schedule], at: datetime) -> None:
        # Subjects decided alike (an import batch, for one) share one UPDATE per chunk of ids.
        groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        for sid, s in schedules.items():
            groups[schedule_values(s)].append(sid)
        for key, ids in groups.items():
            values = {**dict(zip(SCHEDULE_COLUMNS, key, strict=True)), "retention_at": at}
            for chunk in _chunks(ids):
                self._conn.execute(update(t.subjects).where(_S.id.in_(chunk)).values(**values))

    def stale(self, limit: int) -> list[str]:
        return list(self._conn.scalars(select(_S.id).where(_S.retention_at.is_(None)).limit(limit)))

    def mark_stale(self) -> int:
        result = self._conn.execute(update(t.subjects).values(retention_at=None))
        return int(result.rowcount or 0)

    def due(self, today: date, after: tuple[date, str] | None, limit: int) -> list[Scheduled]:
        q = due_query(today, after, limit, self._conn.dialect.name)
        return [_scheduled(row) for row in self._conn.execute(q)]

    def due_keys(self, today: date, after: tuple[date, str] | None, limit: int) -> list[tuple[date, str]]:
        q = due_query(today, after, limit, self._conn.dialect.name, (_S.retain_until, _S.id))
        return [(until, sid) for until, sid in self._conn.execute(q)]

    def count_due(self, today: date) -> int:
        return int(self._conn.scalar(select(func.count()).where(_S.retain_until <= today)) or 0)

    def stored_fields(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        one = self._people.one(subject_ids)
        if one is not None:
            fields = set(self._people.get(one).values)
            return {one: fields} if fields else {}
        out: dict[str, set[str]] = defaultdict(set)
        v = t.subject_values.c
        for chunk in _chunks(sorted(subject_ids)):
            for sid, name in self._conn.execute(
                select(v.subject_id, v.field).where(among(self._conn, v.subject_id, chunk))
            ):
                out[sid].add(name)
        return dict(out)

    def scheduled(self, subject_ids: Collection[str]) -> dict[str, Scheduled]:
        out: dict[str, Scheduled] = {}
        for chunk in _chunks(sorted(subject_ids)):
            for row in self._conn.execute(select(*_SCHEDULE_COLUMNS).where(among(self._conn, _S.id, chunk))):
                out[row.id] = _scheduled(row)
        return out

    def page(self, after: str | None, limit: int) -> list[Scheduled]:
        q = select(*_SCHEDULE_COLUMNS)
        if after is not None:
            q = q.where(_S.id > after)
        return [_scheduled(row) for row in self._conn.execute(q.order_by(_S.id).limit(limit))]

    def archived_page(self, after: str | None, limit: int) -> list[ArchivedEntry]:
        a = t.archive_records.c
        q = select(a.id, a.subject_id, a.kind, a.archived_at)
        if after is not None:
            q = q.where(a.id > after)
        rows = self._conn.execute(q.order_by(a.id).limit(limit))
        return [ArchivedEntry(r.id, r.subject_id, r.kind, r.archived_at) for r in rows]

    # -- sweeps
    def last_sweep(self) -> tuple[date, datetime | None] | None:
        w = t.retention_sweeps.c
        row = self._conn.execute(
            select(w.day, w.finished_at).where(~w.held).order_by(w.day.desc(), w.started_at.desc()).limit(1)
        ).first()
        return (row.day, row.finished_at) if row else None

    def sweep_started(
        self, sweep_id: str, day: date, at: datetime, *, confirmed: bool = False, due: int | None = None
    ) -> None:
        self._conn.execute(
            insert(t.retention_sweeps).values(
                id=sweep_id,
                day=day,
                started_at=at,
                finished_at=None,
                archived=0,
                erased=0,
                failed=0,
                confirmed=confirmed,
                due=due,
            )
        )

    def sweep_held(self, sweep_id: str, day: date, at: datetime, due: int, allowed: int) -> None:
        self._conn.execute(
            insert(t.retention_sweeps).values(
                id=sweep_id,
                day=day,
                started_at=at,
                finished_at=at,
                archived=0,
                erased=0,
                failed=0,
                held=True,
                due=due,
                allowed=allowed,
            )
        )

    def held_on(self, day: date) -> bool:
        w = t.retention_sweeps.c
        return self._conn.execute(select(w.id).where(w.held, w.day == day).limit(1)).first() is not None

    def confirmed(self) -> bool:
        w = t.retention_sweeps.c
        return self._conn.execute(select(w.id).where(w.confirmed).limit(1)).first() is not None

    def sweep_finished(self, sweep_id: str, at: datetime, archived: int, erased: int, failed: int) -> None:
        self._conn.execute(
            update(t.retention_sweeps)
            .where(t.retention_sweeps.c.id == sweep_id)
            .values(finished_at=at, archived=archived, erased=erased, failed=failed)
        )


class SqlReviews:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, review: ReviewRecord) -> None:
        self._conn.execute(
            insert(t.reviews).values(
                id=review.id,
                year=review.year,
                created_at=review.created_at,
                created_by=review.created_by,
                sha256=review.sha256,
                report=review.report,
                signed_at=review.signed_at,
                signed_by=review.signed_by,
            )
        )

    def get(self, review_id: str) -> ReviewRecord | None:
        row = self._conn.execute(select(t.reviews).where(t.reviews.c.id == review_id)).first()
        return _review(row) if row else None

    def sign(self, review_id: str, at: datetime, by: str) -> bool:
        c = t.reviews.c
        result = self._conn.execute(
            update(t.reviews).where(c.id == review_id, c.signed_at.is_(None)).values(signed_at=at, signed_by=by)
        )
        return bool(result.rowcount)

    def for_year(self, year: int) -> list[ReviewRecord]:
        c = t.reviews.c
        rows = self._conn.execute(select(t.reviews).where(c.year == year).order_by(c.created_at, c.id))
        return [_review(r) for r in rows]

    def first_data_at(self) -> datetime | None:
        return self._conn.scalar(select(t.installation.c.first_data_at).where(t.installation.c.id == 1))


def _review(row: Any) -> ReviewRecord:
    return ReviewRecord(
        row.id, row.year, row.created_at, row.created_by, row.sha256, row.report, row.signed_at, row.signed_by
    )
