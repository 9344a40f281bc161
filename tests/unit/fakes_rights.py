"""In-memory fakes of the request, erasure-receipt and archive ports (used through tests/unit/fakes.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from personvern.domain.archive import ArchiveRecord
from personvern.domain.erasure import ErasureReceipt
from personvern.domain.requests import Request, RequestState
from personvern.domain.values import lookup_key
from personvern.policy.schema import Policy
from personvern.services.ports import Lookup


@dataclass
class RightsState:
    requests: dict[str, Request] = field(default_factory=dict)
    sealed: dict[str, tuple[dict[str, str], dict[str, Any] | None]] = field(default_factory=dict)
    receipts: dict[str, ErasureReceipt] = field(default_factory=dict)
    archive: dict[str, tuple[ArchiveRecord, dict[str, str]]] = field(default_factory=dict)
    answers: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def copy(self) -> RightsState:
        return RightsState(
            dict(self.requests), dict(self.sealed), dict(self.receipts), dict(self.archive), dict(self.answers)
        )


class FakeRequests:
    def __init__(self, state: RightsState) -> None:
        self._state = state

    def add(self, request: Request, identity: Mapping[str, str], details: Mapping[str, Any] | None) -> None:
        assert request.id not in self._state.requests
        self._state.requests[request.id] = request
        self._state.sealed[request.id] = (dict(identity), None if details is None else dict(details))

    def get(self, request_id: str, lock: bool = False) -> Request | None:
        return self._state.requests.get(request_id)

    def save(self, request: Request) -> None:
        assert request.id in self._state.requests
        self._state.requests[request.id] = request

    def identity(self, request_id: str) -> dict[str, str] | None:
        found = self._state.sealed.get(request_id)
        return None if found is None else dict(found[0])

    def details(self, request_id: str) -> dict[str, Any] | None:
        found = self._state.sealed.get(request_id)
        return None if found is None or found[1] is None else dict(found[1])

    def forget_personal(self, request_id: str) -> None:
        self._state.sealed.pop(request_id, None)
        self._state.answers.pop(request_id, None)

    def keep_answer(self, request_id: str, files: Mapping[str, bytes], at: datetime) -> None:
        self._state.answers[request_id] = dict(files)

    def answer(self, request_id: str) -> dict[str, bytes] | None:
        found = self._state.answers.get(request_id)
        return None if found is None else dict(found)

    def forget_answer(self, request_id: str) -> None:
        self._state.answers.pop(request_id, None)

    def answers_kept(self, closed_before: datetime) -> list[Request]:
        found = [
            r
            for r in self._state.requests.values()
            if r.closed_at is not None and r.closed_at <= closed_before and r.id in self._state.answers
        ]
        return sorted(found, key=lambda r: (r.closed_at or r.received_at, r.id))

    def forget_subjects(self, subject_ids: Collection[str]) -> int:
        wanted = set(subject_ids)
        ids = [r.id for r in self._state.requests.values() if r.subject_id in wanted]
        for request_id in ids:
            self.forget_personal(request_id)
        return len(ids)

    def unmatched_with_identity(self, states: Collection[RequestState]) -> list[Request]:
        found = [
            r
            for r in self._state.requests.values()
            if r.subject_id is None and r.state in states and r.id in self._state.sealed
        ]
        return sorted(found, key=lambda r: (r.closed_at or r.received_at, r.id))

    def listing(
        self,
        states: Collection[RequestState],
        due_before: date | None,
        limit: int,
        after: tuple[date, datetime, str] | None = None,
    ) -> list[Request]:
        found = [
            r
            for r in self._state.requests.values()
            if r.state in states
            and (due_before is None or r.due_on <= due_before)
            and (after is None or (r.due_on, r.received_at, r.id) > after)
        ]
        return sorted(found, key=lambda r: (r.due_on, r.received_at, r.id))[:limit]

    def for_subject(self, subject_id: str) -> list[Request]:
        found = [r for r in self._state.requests.values() if r.subject_id == subject_id]
        return sorted(found, key=lambda r: (r.received_at, r.id))


class FakeReceipts:
    def __init__(self, state: RightsState) -> None:
        self._state = state

    def add(self, receipt: ErasureReceipt) -> None:
        self._state.receipts[receipt.id] = receipt

    def add_many(self, receipts: Sequence[ErasureReceipt]) -> None:
        for receipt in receipts:
            self.add(receipt)

    def get(self, receipt_id: str) -> ErasureReceipt | None:
        return self._state.receipts.get(receipt_id)

    def for_subject(self, subject_id: str) -> list[ErasureReceipt]:
        found = [r for r in self._state.receipts.values() if r.subject_id == subject_id]
        return sorted(found, key=lambda r: (r.erased_at, r.id))


class FakeArchive:
    def __init__(self, state: RightsState, policy: Policy) -> None:
        self._state = state
        self._policy = policy

    def add(self, record: ArchiveRecord, values: Mapping[str, str]) -> None:
        assert self.for_subject(record.subject_id) is None, "a subject is archived once"
        self._state.archive[record.id] = (record, dict(values))

    def add_many(self, records: Sequence[tuple[ArchiveRecord, Mapping[str, str]]]) -> None:
        for record, values in records:
            self.add(record, values)

    def get(self, record_id: str) -> ArchiveRecord | None:
        found = self._state.archive.get(record_id)
        return None if found is None else found[0]

    def for_subject(self, subject_id: str) -> ArchiveRecord | None:
        return next((r for r, _v in self._state.archive.values() if r.subject_id == subject_id), None)

    def for_subjects(self, subject_ids: Collection[str]) -> dict[str, ArchiveRecord]:
        wanted = set(subject_ids)
        return {r.subject_id: r for r, _v in self._state.archive.values() if r.subject_id in wanted}

    def find(self, lookup: Lookup) -> list[ArchiveRecord]:
        spec = self._policy.fields[lookup.field]
        return [
            r
            for r, values in self._state.archive.values()
            if lookup.field in values and lookup_key(spec.type, values[lookup.field]) == lookup.key
        ]

    def values(self, record: ArchiveRecord) -> dict[str, str]:
        return dict(self._state.archive[record.id][1])

    def listing(self, limit: int, offset: int) -> list[ArchiveRecord]:
        records = sorted((r for r, _v in self._state.archive.values()), key=lambda r: (r.archived_at, r.id))
        return records[offset : offset + limit]

    def count(self) -> int:
        return len(self._state.archive)

    def erase(self, record_id: str) -> None:
        self._state.archive.pop(record_id, None)

    def erase_many(self, record_ids: Collection[str]) -> None:
        for record_id in record_ids:
            self.erase(record_id)
