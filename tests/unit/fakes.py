"""In-memory fakes of the service ports: a transactional unit of work over plain dicts, and a fixed clock."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from personvern.domain.audit import (
    AuditEntry,
    AuditEvent,
    AuditQuery,
    ChainReport,
    ChainStart,
    canonical_details,
    entry_hash,
)
from personvern.domain.audit import verify_chain as _verify_chain
from personvern.domain.consent import Block, ConsentEvent, marketing_block_reason
from personvern.domain.errors import Conflict, NotFound
from personvern.domain.outbox import STOPPED, OutboxRow, OutboxState
from personvern.domain.retention import Schedule
from personvern.domain.sms import Message, MessageStatus
from personvern.domain.subjects import Relationship, Subject
from personvern.domain.values import lookup_key
from personvern.policy.schema import Policy
from personvern.services.ports import Clock, Lookup, PolicyRecord, UnitOfWork, UnitOfWorkFactory
from tests.unit.fakes_accountability import AccountabilityState, FakeBreaches, FakeFigures, FakeNotices
from tests.unit.fakes_recipients import FakeConfirmations, FakeExports, FakeReconciliations, RecipientsState
from tests.unit.fakes_retention import FakeRetention, FakeReviews, RetentionState
from tests.unit.fakes_rights import FakeArchive, FakeReceipts, FakeRequests, RightsState

# (seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash, hash): what verify_chain reads.
AuditRow = tuple[int, datetime, str, str, str, str | None, str | None, str, str, str]


@dataclass
class FixedClock:
    """A clock that says what the test tells it to."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@dataclass
class State:
    """Everything a database would hold. A unit of work works on a copy and commits by replacing the original."""

    subjects: dict[str, Subject] = field(default_factory=dict)
    relationships: dict[str, Relationship] = field(default_factory=dict)
    audit: list[AuditRow] = field(default_factory=list)
    audit_head: int = 0  # like the SQL audit_head row: removing the last entries is detected too
    policies: list[PolicyRecord] = field(default_factory=list)
    outbox: dict[str, OutboxRow] = field(default_factory=dict)
    messages: dict[str, tuple[Message, str | None]] = field(default_factory=dict)
    consents: list[ConsentEvent] = field(default_factory=list)
    blocks: dict[str, Block] = field(default_factory=dict)
    rights: RightsState = field(default_factory=RightsState)
    retention: RetentionState = field(default_factory=RetentionState)
    accountability: AccountabilityState = field(default_factory=AccountabilityState)
    recipients: RecipientsState = field(default_factory=RecipientsState)

    def copy(self) -> State:
        return State(
            dict(self.subjects),
            dict(self.relationships),
            list(self.audit),
            self.audit_head,
            list(self.policies),
            outbox=dict(self.outbox),
            messages=dict(self.messages),
            consents=list(self.consents),
            blocks=dict(self.blocks),
            rights=self.rights.copy(),
            retention=self.retention.copy(),
            accountability=self.accountability.copy(),
            recipients=self.recipients.copy(),
        )


class FakeSubjects:
    def __init__(self, state: State, policy: Policy) -> None:
        self._state = state
        self._policy = policy

    def exists(self, subject_id: str) -> bool:
        return subject_id in self._state.subjects

    def lock(self, subject_ids: Collection[str]) -> set[str]:
        return {sid for sid in subject_ids if sid in self._state.subjects}  # one unit of work at a time anyway

    def _key(self, subject: Subject, name: str) -> str | None:
        spec = self._policy.fields.get(name)
        value = subject.values.get(name)
        if spec is None or not spec.lookup or value is None:
            return None
        return lookup_key(spec.type, value)

    def _check_unique(self, subjects: Sequence[Subject]) -> None:
        # The SQL store's unique index on blind indexes: a safety net behind the services' own checks.
        held = {
            (name, key): s.id
            for s in self._state.subjects.values()
            for name, spec in self._policy.fields.items()
            if spec.unique and (key := self._key(s, name)) is not None
        }
        for s in subjects:
            for name, spec in self._policy.fields.items():
                key = self._key(s, name)
                if spec.unique and key is not None and held.setdefault((name, key), s.id) != s.id:
                    raise Conflict("a unique value (email, phone or national id) is already in the register")

    def add(self, subjects: Sequence[Subject], schedules: Mapping[str, Schedule] | None = None) -> None:
        """All or nothing, like one bulk insert."""
        for s in subjects:
            assert s.id not in self._state.subjects, f"subject {s.id} added twice"
        self._check_unique(subjects)
        self._state.subjects.update((s.id, s) for s in subjects)
        held = self._state.retention
        for s in subjects:
            if held.first_data_at is None or s.created_at < held.first_data_at:
                held.first_data_at = s.created_at
            if schedules and s.id in schedules:
                self._state.retention.schedules[s.id] = (schedules[s.id], s.created_at)

    def get(self, subject_id: str) -> Subject | None:
        return self._state.subjects.get(subject_id)

    def get_many(self, subject_ids: Sequence[str], fields: Collection[str] | None = None) -> list[Subject]:
        found = [self._state.subjects[i] for i in subject_ids if i in self._state.subjects]
        if fields is None:
            return found
        return [replace(s, values={k: v for k, v in s.values.items() if k in fields}) for s in found]

    def find(self, lookup: Lookup) -> list[str]:
        return [s.id for s in self._state.subjects.values() if self._key(s, lookup.field) == lookup.key]

    def find_many(self, field: str, keys: Collection[str]) -> dict[str, str]:
        wanted = set(keys)
        found: dict[str, str] = {}
        for s in self._state.subjects.values():
            key = self._key(s, field)
            if key is not None and key in wanted:
                found.setdefault(key, s.id)
        return found

    def update(self, subject: Subject, changed: Collection[str], removed: Collection[str]) -> None:
        if subject.id not in self._state.subjects:
            raise NotFound(f"no subject with id {subject.id} in the register")
        self._check_unique([subject])
        self._state.subjects[subject.id] = subject

    def stored_fields(self) -> set[tuple[str, str]]:
        return {(s.kind, name) for s in self._state.subjects.values() for name in s.values}

    def erase(self, subject_id: str) -> None:
        self.erase_many([subject_id])

    def erase_many(self, subject_ids: Sequence[str]) -> None:
        missing = [sid for sid in subject_ids if sid not in self._state.subjects]
        if missing:
            raise NotFound(f"no subject with id {missing[0]} in the register")
        gone = set(subject_ids)
        for sid in gone:
            del self._state.subjects[sid]
        for rel_id in [r.id for r in self._state.relationships.values() if r.subject_id in gone]:
            del self._state.relationships[rel_id]

    def shred(self, subject_id: str, keep: Collection[str], at: datetime) -> None:
        subject = self._state.subjects.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id} in the register")
        self._state.subjects[subject_id] = subject.with_values(
            {k: v for k, v in subject.values.items() if k in keep}, at
        )
        self._state.consents = [e for e in self._state.consents if e.subject_id != subject_id]
        self._state.messages = {k: m for k, m in self._state.messages.items() if m[0].subject_id != subject_id}
        self._state.blocks = {k: b for k, b in self._state.blocks.items() if b.subject_id != subject_id}

    def _filtered(
        self, kind: str | None, organisation: Lookup | None, among: Collection[str] | None = None
    ) -> list[Subject]:
        return sorted(
            (
                s
                for s in self._state.subjects.values()
                if (kind is None or s.kind == kind)
                and (organisation is None or s.values.get("organisation_number") == organisation.key)
                and (among is None or s.id in among)
            ),
            key=lambda s: (s.created_at, s.id),
        )

    def count(self, kind: str | None, organisation: Lookup | None, among: Collection[str] | None = None) -> int:
        return len(self._filtered(kind, organisation, among))

    def list(
        self,
        kind: str | None,
        organisation: Lookup | None,
        limit: int,
        offset: int,
        among: Collection[str] | None = None,
    ) -> list[Subject]:
        return self._filtered(kind, organisation, among)[offset : offset + limit]

    def index_field(self, field: str) -> int:
        # The fake computes look-up keys from the values on every find: an index is always complete.
        return sum(1 for s in self._state.subjects.values() if field in s.values)

    def drop_index(self, field: str) -> int:
        return 0


class FakeRelationships:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(self, relationship: Relationship) -> None:
        assert relationship.subject_id in self._state.subjects, "relationship for an unknown subject"
        self._state.relationships[relationship.id] = relationship

    def add_many(self, relationships: Sequence[Relationship]) -> None:
        for relationship in relationships:
            self.add(relationship)

    def get(self, relationship_id: str) -> Relationship | None:
        return self._state.relationships.get(relationship_id)

    def for_subject(self, subject_id: str) -> list[Relationship]:
        found = [r for r in self._state.relationships.values() if r.subject_id == subject_id]
        return sorted(found, key=lambda r: (r.started_on, r.id))

    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Relationship]]:
        return {sid: self.for_subject(sid) for sid in subject_ids}

    def end(self, relationship_id: str, ended_on: date) -> None:
        self._state.relationships[relationship_id] = replace(
            self._state.relationships[relationship_id], ended_on=ended_on
        )


FAKE_AUDIT_KEY = b"fake audit key, 32 bytes long...."
FAKE_CHAIN = ChainStart(FAKE_AUDIT_KEY, "fakechain", 1)


class FakeAuditLog:
    """A keyed chain from its first entry, as a new register has."""

    def __init__(self, state: State) -> None:
        self._state = state

    def start(self, actor: str, role: str, at: datetime, simulation: bool = False) -> bool:
        return False

    def simulation(self) -> bool:
        return True

    def append(self, events: Sequence[AuditEvent], actor: str, role: str, at: datetime) -> None:
        rows = self._state.audit
        for event in events:
            seq = self._state.audit_head + 1
            prev = rows[-1][9] if rows else FAKE_CHAIN.first_prev
            details = canonical_details(event.details)
            digest = entry_hash(
                FAKE_AUDIT_KEY, seq, at, actor, role, event.action, event.subject_id, event.purpose, details, prev
            )
            rows.append((seq, at, actor, role, event.action, event.subject_id, event.purpose, details, prev, digest))
            self._state.audit_head = seq

    def verify(self, simulation: bool | None = None) -> ChainReport:
        report = _verify_chain(self._state.audit, FAKE_CHAIN, True if simulation is None else simulation)
        if report.ok and report.checked != self._state.audit_head:
            return ChainReport(report.checked, report.checked + 1, f"entries after {report.checked} were removed")
        return report

    def chain_id(self) -> str | None:
        return FAKE_CHAIN.chain_id

    def head(self) -> tuple[str, int, str] | None:
        rows = self._state.audit
        return (FAKE_CHAIN.chain_id, self._state.audit_head, rows[-1][9] if rows else FAKE_CHAIN.first_prev)

    def hash_at(self, seq: int) -> str | None:
        return next((r[9] for r in self._state.audit if r[0] == seq), None)

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        found = [
            AuditEntry(seq, at, actor, role, action, sid, purpose, json.loads(details), prev, digest)
            for seq, at, actor, role, action, sid, purpose, details, prev, digest in reversed(self._state.audit)
            if (query.subject_id is None or sid == query.subject_id)
            and (query.actor is None or actor == query.actor)
            and (query.since is None or at >= query.since)
            and (query.action is None or action == query.action or action.startswith(query.action + "."))
            and (query.before is None or seq < query.before)
        ]
        return found[: query.limit]

    def for_subject(self, subject_id: str) -> Iterator[tuple[datetime, str, str, str, str | None]]:
        for _seq, at, actor, role, action, sid, purpose, *_ in self._state.audit:
            if sid == subject_id:
                yield (at, actor, role, action, purpose)


class FakePolicyVersions:
    def __init__(self, state: State) -> None:
        self._state = state

    def current(self) -> PolicyRecord | None:
        return self._state.policies[-1] if self._state.policies else None

    def record(self, record: PolicyRecord) -> None:
        self._state.policies.append(record)


class FakeOutbox:
    """Rows as the SQL outbox keeps them; `personal` stands for the sealed part (dropped on delivery)."""

    def __init__(self, state: State) -> None:
        self._state = state

    def enqueue(self, row: OutboxRow) -> None:
        assert row.id not in self._state.outbox, f"outbox row {row.id} added twice"
        self._state.outbox[row.id] = replace(
            row, state=OutboxState.PENDING, attempts=0, personal=dict(row.personal or {})
        )

    def enqueue_many(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            self.enqueue(row)

    def get(self, row_id: str) -> OutboxRow | None:
        row = self._state.outbox.get(row_id)
        return None if row is None else replace(row, personal=None)

    def _in(self, states: Collection[str], failed_only: bool) -> list[OutboxRow]:
        return [
            r
            for r in self._state.outbox.values()
            if r.state in states and not (failed_only and (r.last_error or "").startswith(STOPPED))
        ]

    def in_states(
        self, states: Collection[str], limit: int, offset: int = 0, failed_only: bool = False
    ) -> list[OutboxRow]:
        rows = sorted(self._in(states, failed_only), key=lambda r: (r.created_at, r.id))
        return [replace(r, personal=None) for r in rows[offset : offset + limit]]

    def count(self, states: Collection[str], failed_only: bool = False) -> int:
        return len(self._in(states, failed_only))

    def for_subject(self, subject_id: str) -> list[OutboxRow]:
        rows = sorted(
            (r for r in self._state.outbox.values() if r.subject_id == subject_id), key=lambda r: (r.created_at, r.id)
        )
        return [replace(r, personal=None) for r in rows]

    def claim(
        self, due_by: datetime, now: datetime, lease_until: datetime, limit: int, skip_kinds: Collection[str] = ()
    ) -> list[OutboxRow]:
        due = sorted(
            (
                r
                for r in self._state.outbox.values()
                if r.state is OutboxState.PENDING
                and r.next_attempt_at <= due_by
                and (r.lease_until is None or r.lease_until <= now)
                and r.kind not in skip_kinds
            ),
            key=lambda r: (r.next_attempt_at, r.id),
        )[:limit]
        for r in due:
            self._state.outbox[r.id] = replace(r, lease_until=lease_until)
        return [replace(self._state.outbox[r.id], resumed=r.lease_until is not None) for r in due]

    def mark_waiting(self, kind: str, due_by: datetime, now: datetime, error: str) -> int:
        waiting = [
            r
            for r in self._state.outbox.values()
            if r.state is OutboxState.PENDING
            and r.kind == kind
            and r.next_attempt_at <= due_by
            and (r.lease_until is None or r.lease_until <= now)
        ]
        for r in waiting:
            self._state.outbox[r.id] = replace(r, last_error=error, lease_until=None)
        return len(waiting)

    def next_attempt(self, after: datetime) -> datetime | None:
        due = [
            r.next_attempt_at
            for r in self._state.outbox.values()
            if r.state is OutboxState.PENDING and r.next_attempt_at > after
        ]
        return min(due, default=None)

    def _ours(self, row_id: str, lease: datetime | None) -> OutboxRow | None:
        row = self._state.outbox.get(row_id)
        if row is None or row.state is not OutboxState.PENDING or (lease is not None and row.lease_until != lease):
            return None
        return row

    def mark_delivered(self, row_id: str, at: datetime, result: dict[str, Any]) -> bool:
        row = self._ours(row_id, None)
        if row is None:
            return False
        self._state.outbox[row_id] = replace(
            row,
            state=OutboxState.DELIVERED,
            personal=None,
            result=dict(result),
            delivered_at=at,
            lease_until=None,
            last_error=None,
        )
        return True

    def mark_retry(
        self, row_id: str, lease: datetime | None, attempts: int, next_attempt_at: datetime, error: str
    ) -> bool:
        row = self._ours(row_id, lease)
        if row is None:
            return False
        self._state.outbox[row_id] = replace(
            row, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error, lease_until=None
        )
        return True

    def mark_dead(self, row_id: str, lease: datetime | None, attempts: int, error: str) -> bool:
        row = self._ours(row_id, lease)
        if row is None:
            return False
        self._state.outbox[row_id] = replace(
            row, state=OutboxState.DEAD, attempts=attempts, last_error=error, lease_until=None
        )
        return True

    def revive(self, row_id: str, at: datetime) -> bool:
        row = self._state.outbox.get(row_id)
        if row is None or row.state is not OutboxState.DEAD:
            return False
        self._state.outbox[row_id] = replace(
            row, state=OutboxState.PENDING, attempts=0, next_attempt_at=at, lease_until=None
        )
        return True

    def cancel(self, row_id: str, error: str) -> bool:
        row = self._ours(row_id, None)
        if row is None:
            return False
        self._state.outbox[row_id] = replace(
            row, state=OutboxState.DEAD, personal={}, last_error=error, lease_until=None
        )
        return True

    def dead_with_personal(self) -> list[OutboxRow]:
        rows = sorted(
            (r for r in self._state.outbox.values() if r.state is OutboxState.DEAD and r.personal),
            key=lambda r: (r.created_at, r.id),
        )
        return [replace(r, personal=None) for r in rows]

    def forget_dead(self, notes: Mapping[str, str], marks: Mapping[str, Any]) -> list[str]:
        done = []
        for row_id, note in notes.items():
            row = self._state.outbox.get(row_id)
            if row is None or row.state is not OutboxState.DEAD:
                continue
            public = {**row.public, **marks}
            self._state.outbox[row_id] = replace(row, personal={}, public=public, last_error=note)
            done.append(row_id)
        return done

    def of_kinds(self, kinds: Collection[str]) -> list[OutboxRow]:
        rows = sorted((r for r in self._state.outbox.values() if r.kind in kinds), key=lambda r: (r.created_at, r.id))
        return [replace(r, personal=None) for r in rows]

    def for_subjects(self, subject_ids: Collection[str], kind: str) -> dict[str, list[OutboxRow]]:
        out: dict[str, list[OutboxRow]] = {}
        for sid in subject_ids:
            rows = [r for r in self.for_subject(sid) if r.kind == kind]
            if rows:
                out[sid] = rows
        return out

    def forget_subject(self, subject_id: str, error: str) -> int:
        ids = [
            r.id
            for r in self._state.outbox.values()
            if r.subject_id == subject_id and r.state is not OutboxState.DELIVERED
        ]
        for row_id in ids:
            row = self._state.outbox[row_id]
            self._state.outbox[row_id] = replace(
                row, state=OutboxState.DEAD, personal={}, last_error=error, lease_until=None
            )
        return len(ids)

    def forget_subjects(self, subject_ids: Collection[str], error: str) -> dict[str, int]:
        stopped = {sid: self.forget_subject(sid, error) for sid in subject_ids}
        return {sid: n for sid, n in stopped.items() if n}


class FakeMessages:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(self, message: Message, text: str) -> None:
        assert message.subject_id in self._state.subjects, "message to an unknown subject"
        self._state.messages[message.id] = (message, text)

    def get(self, message_id: str) -> Message | None:
        found = self._state.messages.get(message_id)
        return None if found is None else found[0]

    def for_outbox(self, outbox_id: str) -> Message | None:
        return next((m for m, _t in self._state.messages.values() if m.outbox_id == outbox_id), None)

    def for_subject(self, subject_id: str) -> list[Message]:
        return sorted(
            (m for m, _t in self._state.messages.values() if m.subject_id == subject_id), key=lambda m: m.created_at
        )

    def _matching(self, subject_id: str | None, status: MessageStatus | None, since: datetime | None) -> list[Message]:
        found = [
            m
            for m, _t in self._state.messages.values()
            if (subject_id is None or m.subject_id == subject_id)
            and (status is None or m.status is status)
            and (since is None or m.created_at >= since)
        ]
        return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)

    def listing(
        self, subject_id: str | None, status: MessageStatus | None, since: datetime | None, limit: int, offset: int
    ) -> list[Message]:
        return self._matching(subject_id, status, since)[offset : offset + limit]

    def count(self, subject_id: str | None, status: MessageStatus | None, since: datetime | None) -> int:
        return len(self._matching(subject_id, status, since))

    def drop_texts_before(self, cutoff: datetime) -> int:
        old = [k for k, (m, text) in self._state.messages.items() if text is not None and m.created_at < cutoff]
        for key in old:
            self._state.messages[key] = (self._state.messages[key][0], None)
        return len(old)

    def text(self, message_id: str) -> str | None:
        found = self._state.messages.get(message_id)
        return None if found is None else found[1]

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
        message, text = self._state.messages[message_id]
        updated = replace(
            message,
            status=status,
            updated_at=at,
            result_code=result_code,
            status_text=status_text,
            vendor_message_id=vendor_message_id or message.vendor_message_id,
        )
        self._state.messages[message_id] = (updated, text)


class FakeConsents:
    """The ledger as a list; the audience is the domain rule applied subject by subject (the oracle of the SQL)."""

    def __init__(self, state: State) -> None:
        self._state = state

    def append(self, event: ConsentEvent) -> None:
        assert event.subject_id in self._state.subjects, "consent event for an unknown subject"
        assert all(e.id != event.id for e in self._state.consents), f"consent event {event.id} added twice"
        self._state.consents.append(event)

    def append_many(self, events: Sequence[ConsentEvent]) -> None:
        for event in events:
            self.append(event)

    def get(self, event_id: str) -> ConsentEvent | None:
        return next((e for e in self._live() if e.id == event_id), None)

    def _live(self) -> list[ConsentEvent]:
        # Like ON DELETE CASCADE: an erased subject's ledger is gone with it.
        return [e for e in self._state.consents if e.subject_id in self._state.subjects]

    def for_subject(self, subject_id: str) -> list[ConsentEvent]:
        return sorted((e for e in self._live() if e.subject_id == subject_id), key=lambda e: e.order)

    def latest(self, subject_id: str, purpose: str, channel: str) -> ConsentEvent | None:
        found = [e for e in self.for_subject(subject_id) if e.key == (purpose, channel)]
        return found[-1] if found else None

    def _audience(self, purpose: str, channel: str) -> list[str]:
        blocks = [b for b in self._state.blocks.values() if b.subject_id in self._state.subjects]
        return sorted(
            sid
            for sid in self._state.subjects
            if marketing_block_reason(
                self.for_subject(sid), [b for b in blocks if b.subject_id == sid], channel, purpose
            )
            is None
        )

    def audience_count(self, purpose: str, channel: str) -> int:
        return len(self._audience(purpose, channel))

    def audience_page(self, purpose: str, channel: str, limit: int, offset: int) -> list[str]:
        return self._audience(purpose, channel)[offset : offset + limit]

    def read_field(self, subject_ids: Sequence[str], field: str) -> dict[str, str]:
        subjects = self._state.subjects
        return {sid: subjects[sid].values[field] for sid in subject_ids if field in subjects[sid].values}


class FakeBlocks:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(self, block: Block) -> None:
        assert block.subject_id in self._state.subjects, "block for an unknown subject"
        assert block.id not in self._state.blocks, f"block {block.id} added twice"
        self._state.blocks[block.id] = block

    def for_subject(self, subject_id: str) -> list[Block]:
        found = [b for b in self._state.blocks.values() if b.subject_id == subject_id]
        return sorted(found, key=lambda b: (b.set_at, b.id))

    def lift(self, block: Block) -> None:
        held = self._state.blocks[block.id]
        self._state.blocks[block.id] = replace(
            held, lifted_at=block.lifted_at, lifted_by=block.lifted_by, lift_reason=block.lift_reason
        )


class FakeEmptyPublicStores:
    """The public page's stores (cookie choices, codes, answer links, rate limits) hold nothing in the unit
    tests: the worker's daily upkeep finds nothing to do. Their behaviour is tested on both databases."""

    def delete_before(self, before: datetime) -> int:
        return 0

    def expire(self, before: datetime) -> int:
        return 0

    def ended(self, before: datetime) -> list[Any]:
        return []

    def forget(self, before: datetime) -> int:
        return 0


class FakeUnitOfWork:
    """Copy-on-enter: the repositories work on a private copy that `commit` publishes; leaving discards it."""

    subjects: FakeSubjects
    relationships: FakeRelationships
    audit: FakeAuditLog
    policies: FakePolicyVersions
    outbox: FakeOutbox
    messages: FakeMessages
    consents: FakeConsents
    blocks: FakeBlocks
    requests: FakeRequests
    receipts: FakeReceipts
    archive: FakeArchive
    retention: FakeRetention
    reviews: FakeReviews
    notices: FakeNotices
    breaches: FakeBreaches
    figures: FakeFigures
    confirmations: FakeConfirmations
    exports: FakeExports
    reconciliations: FakeReconciliations
    cookie_choices: FakeEmptyPublicStores
    public_requests: FakeEmptyPublicStores
    answer_links: FakeEmptyPublicStores
    rate_limits: FakeEmptyPublicStores

    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory
        self._work: State | None = None
        self.committed = False

    def __enter__(self) -> Self:
        assert self._work is None, "a unit of work is entered once"
        self._work = self._factory.state.copy()
        self.subjects = FakeSubjects(self._work, self._factory.policy)
        self.relationships = FakeRelationships(self._work)
        self.audit = FakeAuditLog(self._work)
        self.policies = FakePolicyVersions(self._work)
        self.outbox = FakeOutbox(self._work)
        self.messages = FakeMessages(self._work)
        self.consents = FakeConsents(self._work)
        self.blocks = FakeBlocks(self._work)
        self.requests = FakeRequests(self._work.rights)
        self.receipts = FakeReceipts(self._work.rights)
        self.archive = FakeArchive(self._work.rights, self._factory.policy)
        self.retention = FakeRetention(self._work, self._factory.policy)
        self.reviews = FakeReviews(self._work.retention)
        self.notices = FakeNotices(self._work.accountability)
        self.breaches = FakeBreaches(self._work.accountability)
        self.figures = FakeFigures(self._work)
        self.confirmations = FakeConfirmations(self._work.recipients)
        self.exports = FakeExports(self._work.recipients)
        self.reconciliations = FakeReconciliations(self._work.recipients)
        empty = FakeEmptyPublicStores()
        self.cookie_choices = self.public_requests = self.answer_links = self.rate_limits = empty
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._work = None  # whatever was not committed is gone

    def commit(self) -> None:
        assert self._work is not None, "commit outside `with`"
        self._factory.state = self._work.copy()
        self._factory.commits += 1
        self.committed = True


class FakeUnitOfWorkFactory:
    """Holds the committed state; `factory()` opens a unit of work on it."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.state = State()
        self.commits = 0
        self.opened: list[FakeUnitOfWork] = []

    def __call__(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self)
        self.opened.append(uow)
        return uow

    def audit_entries(self) -> list[AuditEntry]:
        return [
            AuditEntry(seq, at, actor, role, action, sid, purpose, json.loads(details), prev, digest)
            for seq, at, actor, role, action, sid, purpose, details, prev, digest in self.state.audit
        ]

    def verify(self) -> ChainReport:
        return FakeAuditLog(self.state).verify()


def _conforms(factory: FakeUnitOfWorkFactory, uow: FakeUnitOfWork, clock: FixedClock) -> None:
    """Never called: mypy checks here that the fakes implement the ports."""
    _f: UnitOfWorkFactory = factory
    _u: UnitOfWork = uow
    _c: Clock = clock
    del _f, _u, _c
