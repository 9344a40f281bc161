"""In-memory fakes of the retention and review ports (used through tests/unit/fakes.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from personvern.domain.requests import OPEN_STATES, RequestType
from personvern.domain.retention import Facts, Schedule
from personvern.domain.subjects import Relationship, Subject
from personvern.policy.schema import Policy
from personvern.services.ports import ArchivedEntry, ReviewRecord, Scheduled

if TYPE_CHECKING:
    from tests.unit.fakes import State


@dataclass
class RetentionState:
    schedules: dict[str, tuple[Schedule, datetime]] = field(default_factory=dict)
    reviews: dict[str, ReviewRecord] = field(default_factory=dict)
    sweeps: dict[str, tuple[date, datetime, datetime | None, int, int, int]] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)  # sweeps the CEO ran (`retention run`)
    held: dict[str, tuple[date, int, int]] = field(default_factory=dict)  # the worker's holds: day, due, allowed
    first_data_at: datetime | None = None

    def copy(self) -> RetentionState:
        return RetentionState(
            dict(self.schedules),
            dict(self.reviews),
            dict(self.sweeps),
            set(self.confirmed),
            dict(self.held),
            self.first_data_at,
        )


class FakeRetention:
    """Facts gathered from the other fakes' state; schedules in a dict; the range scan as a sorted filter."""

    def __init__(self, state: State, policy: Policy) -> None:
        self._state = state
        self._policy = policy

    def _r(self) -> RetentionState:
        return self._state.retention

    def _organisation(self, s: Subject) -> str | None:
        if s.kind in self._policy.kinds and self._policy.kinds[s.kind].business:
            return s.values.get("organisation_number")
        return None

    def _live(self) -> dict[str, Schedule]:
        return {sid: sch for sid, (sch, _at) in self._r().schedules.items() if sid in self._state.subjects}

    def facts(self, subject_ids: Collection[str]) -> dict[str, Facts]:
        out = {}
        org = self.organisation_relationships(subject_ids)
        rights = self._state.rights
        for sid in subject_ids:
            s = self._state.subjects.get(sid)
            if s is None:
                continue
            rels = {r.id: r for r in self._state.relationships.values() if r.subject_id == sid}
            rels.update({r.id: r for r in org.get(sid, [])})
            open_types = {
                r.type.value for r in rights.requests.values() if r.subject_id == sid and r.state in OPEN_STATES
            }
            causes = {r.cause.value for r in rights.receipts.values() if r.subject_id == sid}
            held = self._r().schedules.get(sid)
            for_good = "request" in causes or (bool(causes) and held is not None and held[0].action.value == "erase")
            out[sid] = Facts(
                s.kind,
                s.received_at,
                sorted(rels.values(), key=lambda r: (r.started_on, r.id)),
                sorted((e for e in self._state.consents if e.subject_id == sid), key=lambda e: e.order),
                sorted((b for b in self._state.blocks.values() if b.subject_id == sid), key=lambda b: (b.set_at, b.id)),
                open_request=bool(open_types),
                erasure_requested=RequestType.ERASURE.value in open_types or for_good,
                erased=bool(causes),
            )
        return out

    def organisation_relationships(self, subject_ids: Collection[str]) -> dict[str, list[Relationship]]:
        out: dict[str, list[Relationship]] = {}
        for sid in subject_ids:
            s = self._state.subjects.get(sid)
            number = self._organisation(s) if s is not None else None
            if number is None:
                continue
            members = {p.id for p in self._state.subjects.values() if p.values.get("organisation_number") == number}
            found = [r for r in self._state.relationships.values() if r.subject_id in members]
            if found:
                out[sid] = found
        return out

    def peers(self, subject_ids: Collection[str]) -> set[str]:
        numbers = {
            n
            for sid in subject_ids
            if (s := self._state.subjects.get(sid)) and (n := self._organisation(s)) is not None
        }
        return {p.id for p in self._state.subjects.values() if self._organisation(p) in numbers}

    def save(self, schedules: Mapping[str, Schedule], at: datetime) -> None:
        for sid, sch in schedules.items():
            assert sid in self._state.subjects, "schedule for an unknown subject"
            self._r().schedules[sid] = (sch, at)

    def stale(self, limit: int) -> list[str]:
        return sorted(sid for sid in self._state.subjects if sid not in self._r().schedules)[:limit]

    def mark_stale(self) -> int:
        n = len(self._r().schedules)
        self._r().schedules.clear()
        return n

    def _scheduled(self, sid: str) -> Scheduled:
        found = self._r().schedules.get(sid)
        return Scheduled(sid, self._state.subjects[sid].kind, found[0] if found else None)

    def due(self, today: date, after: tuple[date, str] | None, limit: int) -> list[Scheduled]:
        keys = sorted(
            (sch.retain_until, sid)
            for sid, sch in self._live().items()
            if sch.retain_until is not None and sch.retain_until <= today
        )
        if after is not None:
            keys = [k for k in keys if k > after]
        return [self._scheduled(sid) for _d, sid in keys[:limit]]

    def due_keys(self, today: date, after: tuple[date, str] | None, limit: int) -> list[tuple[date, str]]:
        return [
            (item.schedule.retain_until, item.subject_id)  # type: ignore[misc, union-attr]
            for item in self.due(today, after, limit)
        ]

    def count_due(self, today: date) -> int:
        return sum(1 for s in self._live().values() if s.due_on(today))

    def stored_fields(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        return {sid: set(self._state.subjects[sid].values) for sid in subject_ids if sid in self._state.subjects}

    def scheduled(self, subject_ids: Collection[str]) -> dict[str, Scheduled]:
        return {sid: self._scheduled(sid) for sid in subject_ids if sid in self._state.subjects}

    def page(self, after: str | None, limit: int) -> list[Scheduled]:
        ids = sorted(sid for sid in self._state.subjects if after is None or sid > after)
        return [self._scheduled(sid) for sid in ids[:limit]]

    def archived_page(self, after: str | None, limit: int) -> list[ArchivedEntry]:
        records = sorted(
            (rec for rec, _v in self._state.rights.archive.values() if after is None or rec.id > after),
            key=lambda r: r.id,
        )
        return [ArchivedEntry(r.id, r.subject_id, r.kind, r.archived_at) for r in records[:limit]]

    def last_sweep(self) -> tuple[date, datetime | None] | None:
        if not self._r().sweeps:
            return None
        day, _started, finished, *_ = max(self._r().sweeps.values(), key=lambda w: (w[0], w[1]))
        return day, finished

    def sweep_started(
        self, sweep_id: str, day: date, at: datetime, *, confirmed: bool = False, due: int | None = None
    ) -> None:
        self._r().sweeps[sweep_id] = (day, at, None, 0, 0, 0)
        if confirmed:
            self._r().confirmed.add(sweep_id)

    def sweep_held(self, sweep_id: str, day: date, at: datetime, due: int, allowed: int) -> None:
        self._r().held[sweep_id] = (day, due, allowed)

    def held_on(self, day: date) -> bool:
        return any(held_day == day for held_day, _due, _allowed in self._r().held.values())

    def confirmed(self) -> bool:
        return bool(self._r().confirmed)

    def sweep_finished(self, sweep_id: str, at: datetime, archived: int, erased: int, failed: int) -> None:
        day, started, *_ = self._r().sweeps[sweep_id]
        self._r().sweeps[sweep_id] = (day, started, at, archived, erased, failed)


class FakeReviews:
    def __init__(self, state: RetentionState) -> None:
        self._state = state

    def add(self, review: ReviewRecord) -> None:
        assert review.id not in self._state.reviews
        self._state.reviews[review.id] = review

    def get(self, review_id: str) -> ReviewRecord | None:
        return self._state.reviews.get(review_id)

    def sign(self, review_id: str, at: datetime, by: str) -> bool:
        held = self._state.reviews[review_id]
        if held.signed_at is not None:
            return False
        self._state.reviews[review_id] = replace(held, signed_at=at, signed_by=by)
        return True

    def for_year(self, year: int) -> list[ReviewRecord]:
        return sorted((r for r in self._state.reviews.values() if r.year == year), key=lambda r: (r.created_at, r.id))

    def first_data_at(self) -> datetime | None:
        return self._state.first_data_at
