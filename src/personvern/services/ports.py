"""The interfaces the services need from storage and time; `store/` and the test fakes implement them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from personvern.domain.audit import AuditEvent, ChainReport
from personvern.domain.subjects import Relationship, Subject


class Clock(Protocol):
    def now(self) -> datetime: ...


class Mapper(Protocol):
    """Applies a function to each item, in order; may run them in other processes (CPU-bound batches)."""

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]: ...


def serial_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    return (fn(item) for item in items)


@dataclass(frozen=True)
class PolicyRecord:
    version: str
    sha256: str
    text: str
    loaded_at: datetime


@dataclass(frozen=True)
class Lookup:
    """A value to find: the field and the value as `domain.values.lookup_key` renders it."""

    field: str
    key: str


class SubjectRepository(Protocol):
    def add(self, subjects: Sequence[Subject]) -> None: ...
    def get(self, subject_id: str) -> Subject | None: ...
    def get_many(self, subject_ids: Sequence[str]) -> list[Subject]: ...
    def find(self, lookup: Lookup) -> list[str]: ...
    def find_many(self, field: str, keys: Collection[str]) -> dict[str, str]:
        """Which of these keys are already held, and by which subject (one per key)."""
        ...

    def update(self, subject: Subject, changed: Collection[str], removed: Collection[str]) -> None: ...
    def list(self, kind: str | None, organisation: Lookup | None, limit: int, offset: int) -> list[Subject]: ...
    def count(self, kind: str | None, organisation: Lookup | None) -> int: ...
    def stored_fields(self) -> set[tuple[str, str]]:
        """Every (kind, field) pair some subject holds a value for."""
        ...

    def erase(self, subject_id: str) -> None:
        """Delete every row of the subject and its data key, so nothing of it can be decrypted again."""
        ...


class RelationshipRepository(Protocol):
    def add(self, relationship: Relationship) -> None: ...
    def for_subject(self, subject_id: str) -> list[Relationship]: ...
    def end(self, relationship_id: str, ended_on: date) -> None: ...


class AuditLog(Protocol):
    def append(self, events: Sequence[AuditEvent], actor: str, role: str, at: datetime) -> None: ...
    def verify(self) -> ChainReport: ...
    def for_subject(self, subject_id: str) -> Iterator[tuple[datetime, str, str, str, str | None]]: ...


class PolicyVersions(Protocol):
    def current(self) -> PolicyRecord | None: ...
    def record(self, record: PolicyRecord) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: everything done through it commits together, or not at all."""

    @property
    def subjects(self) -> SubjectRepository: ...
    @property
    def relationships(self) -> RelationshipRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def policies(self) -> PolicyVersions: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
