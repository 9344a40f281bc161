"""The interfaces the services need from storage and time; `store/` and the test fakes implement them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from personvern.domain.archive import ArchiveRecord
from personvern.domain.audit import AuditEntry, AuditEvent, AuditQuery, ChainReport, Checkpoint
from personvern.domain.breaches import Breach, Notification
from personvern.domain.confirmations import Confirmation, ConfirmationState
from personvern.domain.consent import Block, ConsentEvent
from personvern.domain.cookies import CookieChoice
from personvern.domain.erasure import ErasureReceipt
from personvern.domain.otp import AnswerLink, PendingRequest
from personvern.domain.outbox import OutboxRow
from personvern.domain.reconcile import Reconciliation
from personvern.domain.requests import Request, RequestState
from personvern.domain.retention import Facts, Schedule
from personvern.domain.sms import Message, MessageStatus
from personvern.domain.statistics import BreachRow, ConsentCount, CookieCount, Months, RequestRow
from personvern.domain.subjects import Relationship, Subject
from personvern.domain.users import Session, Throttle, User


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
    def add(self, subjects: Sequence[Subject], schedules: Mapping[str, Schedule] | None = None) -> None:
        """Insert the subjects, all or none; `schedules` are stored with the rows, computed at `created_at`."""
        ...

    def get(self, subject_id: str) -> Subject | None: ...
    def exists(self, subject_id: str) -> bool:
        """Whether the subject is in the register, without decrypting anything."""
        ...

    def lock(self, subject_ids: Collection[str]) -> set[str]:
        """Hold these subjects' rows until the transaction ends; those still in the register.

        Another transaction that would change them (or their relationships, consent, blocks) waits, and one
        that removed them first leaves them out (`FOR UPDATE` on PostgreSQL; on SQLite the transaction
        already holds the only write lock).
        """
        ...

    def get_many(self, subject_ids: Sequence[str], fields: Collection[str] | None = None) -> list[Subject]:
        """These subjects (those in the register); `fields`: decrypt only these values, leave the others out."""
        ...

    def find(self, lookup: Lookup) -> list[str]: ...
    def find_many(self, field: str, keys: Collection[str]) -> dict[str, str]:
        """Which of these keys are already held, and by which subject (one per key)."""
        ...

    def update(self, subject: Subject, changed: Collection[str], removed: Collection[str]) -> None: ...
    def list(
        self,
        kind: str | None,
        organisation: Lookup | None,
        limit: int,
        offset: int,
        among: Collection[str] | None = None,
    ) -> list[Subject]:
        """Oldest first; `among`: only these subjects (e.g. those a name look-up found)."""
        ...

    def count(self, kind: str | None, organisation: Lookup | None, among: Collection[str] | None = None) -> int: ...
    def index_field(self, field: str) -> int:
        """Build the blind index of a field the policy now looks up, from the values held; how many were indexed."""
        ...

    def drop_index(self, field: str) -> int:
        """Forget the blind index of a field the policy no longer looks up; how many digests went."""
        ...

    def stored_fields(self) -> set[tuple[str, str]]:
        """Every (kind, field) pair some subject holds a value for."""
        ...

    def erase(self, subject_id: str) -> None:
        """Delete every row of the subject and its data key, so nothing of it can be decrypted again."""
        ...

    def erase_many(self, subject_ids: Sequence[str]) -> None:
        """`erase` for many: a few statements per few hundred subjects, nothing decrypted; NotFound if one is not
        in the register (and then nothing is deleted). An organisation left without members goes too."""
        ...

    def shred(self, subject_id: str, keep: Collection[str], at: datetime) -> None:
        """Erase all but the `keep` fields and the relationships; re-seal those under a fresh data key.

        The old key goes, so nothing in the database can read an erased value again (a backup taken before
        still can, with today's master key, until the key store lives apart: README, "Keys and erasure").
        """
        ...


class RelationshipRepository(Protocol):
    def add(self, relationship: Relationship) -> None: ...
    def add_many(self, relationships: Sequence[Relationship]) -> None:
        """Many at once, of subjects in the register (an import's orders and contracts)."""
        ...

    def get(self, relationship_id: str) -> Relationship | None: ...
    def for_subject(self, subject_id: str) -> list[Relationship]: ...
    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Relationship]]:
        """Each subject's own relationships, oldest first, read together (a list shows many subjects)."""
        ...

    def end(self, relationship_id: str, ended_on: date) -> None: ...


class AuditLog(Protocol):
    def append(self, events: Sequence[AuditEvent], actor: str, role: str, at: datetime) -> None: ...
    def start(self, actor: str, role: str, at: datetime, simulation: bool = False) -> bool: ...
    def simulation(self) -> bool: ...
    def verify(self, simulation: bool | None = None) -> ChainReport: ...
    def chain_id(self) -> str | None: ...
    def head(self) -> tuple[str, int, str] | None: ...
    def hash_at(self, seq: int) -> str | None: ...
    def entries(self, query: AuditQuery) -> list[AuditEntry]: ...
    def for_subject(self, subject_id: str) -> Iterator[tuple[datetime, str, str, str, str | None]]: ...


class AuditCheckpoints(Protocol):
    """Signed heads of the audit chain kept outside the database (a file beside the master key)."""

    def last(self, chain_id: str) -> Checkpoint | None:
        """The checkpoint of `chain_id` with the highest seq since its last restore mark; IntegrityBroken when a
        line's signature fails."""
        ...

    def add(self, checkpoint: Checkpoint) -> str:
        """Append the checkpoint; returns its signed line."""
        ...

    def restored(self, checkpoint: Checkpoint) -> str:
        """Append a restore mark: the chain was put back to this head on purpose (`personvern restore`), so the
        checkpoints before it no longer count; returns its signed line."""
        ...


class PolicyVersions(Protocol):
    def current(self) -> PolicyRecord | None: ...
    def record(self, record: PolicyRecord) -> None: ...


class ConsentLedger(Protocol):
    """The append-only consent ledger (Art. 7(1)) and the marketing audience it yields."""

    def append(self, event: ConsentEvent) -> None: ...
    def append_many(self, events: Sequence[ConsentEvent]) -> None:
        """Many at once (an import's consents); each event's proof note is sealed under its subject's key."""
        ...

    def get(self, event_id: str) -> ConsentEvent | None: ...
    def for_subject(self, subject_id: str) -> list[ConsentEvent]:
        """Every event of the subject, oldest first (by time, then id)."""
        ...

    def latest(self, subject_id: str, purpose: str, channel: str) -> ConsentEvent | None: ...
    def audience_count(self, purpose: str, channel: str) -> int:
        """How many subjects marketing on this channel may reach now (see `domain.consent.marketing_block_reason`)."""
        ...

    def audience_page(self, purpose: str, channel: str, limit: int, offset: int) -> list[str]:
        """Their ids, in id order."""
        ...

    def read_field(self, subject_ids: Sequence[str], field: str) -> dict[str, str]:
        """One field of each subject, decrypted: the only value a message on a channel needs."""
        ...


class BlockRepository(Protocol):
    """Objections (Art. 21) and restrictions (Art. 18), set and lifted."""

    def add(self, block: Block) -> None: ...
    def for_subject(self, subject_id: str) -> list[Block]:
        """Every block of the subject, lifted ones too, oldest first."""
        ...

    def lift(self, block: Block) -> None:
        """Store the block's lifted_at, lifted_by and lift_reason."""
        ...


class Outbox(Protocol):
    """The transactional outbox: side effects written with their cause, claimed and delivered by workers."""

    def enqueue(self, row: OutboxRow) -> None:
        """Add a pending row; its `personal` part is stored sealed (under a key of the row's own)."""
        ...

    def enqueue_many(self, rows: Sequence[OutboxRow]) -> None:
        """Add many pending rows at once (an import's shares), each as `enqueue` adds one."""
        ...

    def get(self, row_id: str) -> OutboxRow | None: ...
    def in_states(
        self, states: Collection[str], limit: int, offset: int = 0, failed_only: bool = False
    ) -> list[OutboxRow]:
        """Rows in these states, oldest first, without their personal part; the first `offset` skipped.
        `failed_only`: without the dead rows stopped on purpose (`domain.outbox.STOPPED`)."""
        ...

    def count(self, states: Collection[str], failed_only: bool = False) -> int: ...
    def for_subject(self, subject_id: str) -> list[OutboxRow]:
        """Every row of the subject in any state, oldest first, without the personal part (one indexed query)."""
        ...

    def claim(
        self, due_by: datetime, now: datetime, lease_until: datetime, limit: int, skip_kinds: Collection[str] = ()
    ) -> list[OutboxRow]:
        """Lease pending rows due by `due_by` whose lease has expired at `now`, personal part opened.

        Rows another transaction holds are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and so are rows
        of `skip_kinds` (their connector cannot deliver now).
        """
        ...

    def mark_waiting(self, kind: str, due_by: datetime, now: datetime, error: str) -> int:
        """Note `error` on every pending row of `kind` due by `due_by` and not leased at `now`; how many.

        Nothing else changes: not the attempts, not when they are due (they go as soon as they can).
        """
        ...

    def next_attempt(self, after: datetime) -> datetime | None:
        """The earliest time after `after` that a pending row is due, if any."""
        ...

    def mark_delivered(self, row_id: str, at: datetime, result: dict[str, Any]) -> bool:
        """Delivered: drop the personal part and its key, keep the receiver's answer. False if not pending."""
        ...

    def mark_retry(
        self, row_id: str, lease: datetime | None, attempts: int, next_attempt_at: datetime, error: str
    ) -> bool:
        """Back to waiting, if still pending under this lease (None: any). False if another worker has it now."""
        ...

    def mark_dead(self, row_id: str, lease: datetime | None, attempts: int, error: str) -> bool: ...
    def revive(self, row_id: str, at: datetime) -> bool:
        """A dead row back to pending, with a fresh count of attempts. False if it is not dead."""
        ...

    def for_subjects(self, subject_ids: Collection[str], kind: str) -> dict[str, list[OutboxRow]]:
        """The rows of this kind of each of these subjects, oldest first, without the personal part.

        Subjects without such rows (most of them) are left out: one indexed query per few hundred subjects.
        """
        ...

    def forget_subject(self, subject_id: str, error: str) -> int:
        """Stop the subject's undelivered rows: dead, personal part destroyed (erasure). Returns how many."""
        ...

    def forget_subjects(self, subject_ids: Collection[str], error: str) -> dict[str, int]:
        """`forget_subject` for many; how many rows were stopped per subject (subjects with none left out)."""
        ...

    def cancel(self, row_id: str, error: str) -> bool:
        """Stop one pending row whose basis is gone: dead, personal part destroyed. False if it is not pending."""
        ...

    def dead_with_personal(self) -> list[OutboxRow]:
        """Dead rows that still hold their sealed personal part (kept for `outbox retry`), oldest first, unopened."""
        ...

    def forget_dead(self, notes: Mapping[str, str], marks: Mapping[str, Any]) -> list[str]:
        """Destroy the personal part and its key of these dead rows (id -> the note that becomes `last_error`),
        adding `marks` to their public part; rows no longer dead are left alone. Returns the ids done."""
        ...

    def of_kinds(self, kinds: Collection[str]) -> list[OutboxRow]:
        """Every row of these kinds in any state, oldest first, without the personal part (a reconciliation)."""
        ...


class MessageLog(Protocol):
    """Messages sent to subjects: metadata, and the text sealed under the subject's data key."""

    def add(self, message: Message, text: str) -> None: ...
    def get(self, message_id: str) -> Message | None: ...
    def for_outbox(self, outbox_id: str) -> Message | None: ...
    def for_subject(self, subject_id: str) -> list[Message]:
        """The subject's messages, oldest first (metadata; the text only through `text`)."""
        ...

    def listing(
        self, subject_id: str | None, status: MessageStatus | None, since: datetime | None, limit: int, offset: int
    ) -> list[Message]:
        """Messages, newest first, of one subject / in one status / created at or after `since` where given."""
        ...

    def count(self, subject_id: str | None, status: MessageStatus | None, since: datetime | None) -> int: ...

    def drop_texts_before(self, cutoff: datetime) -> int:
        """Forget the text of every message created before `cutoff`; return how many texts were dropped."""
        ...

    def text(self, message_id: str) -> str | None:
        """The text, decrypted; None once it was dropped (or the subject's key is gone)."""
        ...

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
        """Record a status; `vendor_message_id` is kept once known (None leaves it as it is)."""
        ...


class RequestRepository(Protocol):
    """Data subject requests; the identity given and any values asked for are sealed under the request's key."""

    def add(self, request: Request, identity: Mapping[str, str], details: Mapping[str, Any] | None) -> None: ...
    def get(self, request_id: str, lock: bool = False) -> Request | None:
        """The request; `lock`: its row locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
        ...

    def save(self, request: Request) -> None:
        """Store the request's state, dates and outcome (never its sealed parts)."""
        ...

    def identity(self, request_id: str) -> dict[str, str] | None:
        """How the person identified themselves, decrypted; None once forgotten."""
        ...

    def details(self, request_id: str) -> dict[str, Any] | None: ...
    def forget_personal(self, request_id: str) -> None:
        """Destroy the request's sealed parts and their key (after an erasure)."""
        ...

    def forget_subjects(self, subject_ids: Collection[str]) -> int:
        """`forget_personal` for every request about these subjects; returns how many requests there were."""
        ...

    def unmatched_with_identity(self, states: Collection[RequestState]) -> list[Request]:
        """Requests in these states that matched nobody and still hold a sealed part, oldest answer first."""
        ...

    def keep_answer(self, request_id: str, files: Mapping[str, bytes], at: datetime) -> None:
        """Seal the answer's files beside the request's other sealed parts (under a new key if an erasure
        destroyed the old one)."""
        ...

    def answer(self, request_id: str) -> dict[str, bytes] | None:
        """The answer's files, decrypted; None when none are kept (never, or forgotten)."""
        ...

    def forget_answer(self, request_id: str) -> None:
        """Destroy the answer's files; the identity and details given stay as long as they may."""
        ...

    def answers_kept(self, closed_before: datetime) -> list[Request]:
        """Answered requests closed before this instant that still hold a sealed part (which may be an answer)."""
        ...

    def listing(
        self,
        states: Collection[RequestState],
        due_before: date | None,
        limit: int,
        after: tuple[date, datetime, str] | None = None,
    ) -> list[Request]:
        """Requests in these states, by due date (then receipt, then id), from after the key `after` on."""
        ...

    def for_subject(self, subject_id: str) -> list[Request]: ...


class ErasureReceipts(Protocol):
    def add(self, receipt: ErasureReceipt) -> None: ...
    def add_many(self, receipts: Sequence[ErasureReceipt]) -> None: ...
    def get(self, receipt_id: str) -> ErasureReceipt | None: ...
    def for_subject(self, subject_id: str) -> list[ErasureReceipt]: ...


class ArchiveRepository(Protocol):
    """The CEO's archive: minimised records, each sealed under a key of its own."""

    def add(self, record: ArchiveRecord, values: Mapping[str, str]) -> None: ...
    def add_many(self, records: Sequence[tuple[ArchiveRecord, Mapping[str, str]]]) -> None:
        """`add` for many: each record still sealed under a key of its own."""
        ...

    def get(self, record_id: str) -> ArchiveRecord | None: ...
    def for_subject(self, subject_id: str) -> ArchiveRecord | None: ...
    def for_subjects(self, subject_ids: Collection[str]) -> dict[str, ArchiveRecord]:
        """The archived records of those of these subjects that have one, by subject id."""
        ...

    def find(self, lookup: Lookup) -> list[ArchiveRecord]: ...
    def values(self, record: ArchiveRecord) -> dict[str, str]: ...
    def listing(self, limit: int, offset: int) -> list[ArchiveRecord]: ...
    def count(self) -> int: ...
    def erase(self, record_id: str) -> None:
        """Delete the record, its look-ups and its key."""
        ...

    def erase_many(self, record_ids: Collection[str]) -> None: ...


@dataclass(frozen=True)
class Scheduled:
    """A subject's stored retention schedule, read without decrypting anything."""

    subject_id: str
    kind: str
    schedule: Schedule | None  # None: never computed (or stale after a policy change)


@dataclass(frozen=True)
class ArchivedEntry:
    """An archive record as the annual review sees it: ids and dates, no values."""

    record_id: str
    subject_id: str
    kind: str
    archived_at: datetime


@dataclass(frozen=True)
class ReviewRecord:
    id: str
    year: int
    created_at: datetime
    created_by: str
    sha256: str
    report: str  # canonical JSON: record ids and reasons, no personal values
    signed_at: datetime | None = None
    signed_by: str | None = None


class RetentionStore(Protocol):
    """The facts retention decides on, the schedule kept per subject, and the sweep's range scans."""

    def facts(self, subject_ids: Collection[str]) -> dict[str, Facts]:
        """Facts of these live subjects; a business kind counts the orders and contracts of its organisation."""
        ...

    def organisation_relationships(self, subject_ids: Collection[str]) -> dict[str, list[Relationship]]:
        """Per subject (of a business kind, in an organisation), the relationships of its organisation."""
        ...

    def peers(self, subject_ids: Collection[str]) -> set[str]:
        """Subjects of business kinds sharing an organisation with these (their facts change together)."""
        ...

    def save(self, schedules: Mapping[str, Schedule], at: datetime) -> None: ...
    def stale(self, limit: int) -> list[str]:
        """Ids of subjects whose schedule was never computed (or was reset by a policy change)."""
        ...

    def mark_stale(self) -> int:
        """Forget every schedule (a new policy version changes the rules); returns how many."""
        ...

    def due(self, today: date, after: tuple[date, str] | None, limit: int) -> list[Scheduled]:
        """Subjects with retain_until <= today, by (retain_until, id) after `after`: an index range scan."""
        ...

    def due_keys(self, today: date, after: tuple[date, str] | None, limit: int) -> list[tuple[date, str]]:
        """`due` without the schedules: (retain_until, id) of each, for a run that decides each one again."""
        ...

    def count_due(self, today: date) -> int: ...
    def stored_fields(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        """The names of the fields each subject holds a value for (names only, nothing decrypted)."""
        ...

    def scheduled(self, subject_ids: Collection[str]) -> dict[str, Scheduled]: ...
    def page(self, after: str | None, limit: int) -> list[Scheduled]:
        """Every subject, by id after `after` (the annual review walks the whole register)."""
        ...

    def archived_page(self, after: str | None, limit: int) -> list[ArchivedEntry]: ...
    def last_sweep(self) -> tuple[date, datetime | None] | None:
        """The day of the latest sweep and when it finished (None if it did not); days held do not count."""
        ...

    def sweep_started(
        self, sweep_id: str, day: date, at: datetime, *, confirmed: bool = False, due: int | None = None
    ) -> None:
        """A sweep begins; `confirmed`: the CEO runs it (`retention run`), the confirmation the worker waits for."""
        ...

    def sweep_finished(self, sweep_id: str, at: datetime, archived: int, erased: int, failed: int) -> None: ...
    def sweep_held(self, sweep_id: str, day: date, at: datetime, due: int, allowed: int) -> None:
        """The worker did not sweep on `day`: `due` subjects were due, it may do `allowed` alone (or none yet)."""
        ...

    def held_on(self, day: date) -> bool:
        """Whether the worker already recorded a hold on `day` (it is recorded once a day, said on every pass)."""
        ...

    def confirmed(self) -> bool:
        """Whether the CEO ever ran a sweep (`retention run`) on this register."""
        ...


class ReviewStore(Protocol):
    def add(self, review: ReviewRecord) -> None: ...
    def get(self, review_id: str) -> ReviewRecord | None: ...
    def sign(self, review_id: str, at: datetime, by: str) -> bool:
        """Sign an unsigned review; False if it was signed already."""
        ...

    def for_year(self, year: int) -> list[ReviewRecord]: ...
    def first_data_at(self) -> datetime | None:
        """When the register first held data (its first subject); None while it never has."""
        ...


@dataclass(frozen=True)
class NoticeVersion:
    """One rendering of the privacy notice, as published when a policy was loaded."""

    sha256: str
    policy_sha256: str
    language: str
    format: str
    text: str
    created_at: datetime


class NoticeVersions(Protocol):
    """Every rendering of the privacy notice ever published, by sha256: old versions stay readable (Art. 7(1))."""

    def add(self, notice: NoticeVersion) -> bool:
        """Store a rendering unless this text is stored for this policy already; True if it is new."""
        ...

    def find(self, sha256_prefix: str) -> list[NoticeVersion]:
        """The renderings whose sha256 starts with the prefix (one text may be stored for several policies)."""
        ...

    def current(self, policy_sha256: str, language: str, format: str) -> NoticeVersion | None:
        """The latest rendering stored for a policy, language and format."""
        ...

    def all(self) -> list[NoticeVersion]:
        """Every rendering, newest first."""
        ...


class BreachRegister(Protocol):
    """The breach register (Art. 33(5)): every breach, the subjects it affected, and its notifications."""

    def add(self, breach: Breach) -> None: ...
    def get(self, breach_id: str) -> Breach | None: ...
    def update(self, breach: Breach) -> None:
        """Store the breach's facts as they are now, and any affected subject not listed yet."""
        ...

    def all(self) -> list[Breach]:
        """Every breach, the latest discovered first."""
        ...

    def notify(self, notification: Notification) -> None: ...


@dataclass(frozen=True)
class Deliveries:
    """Outbox rows of one kind that reached their receiver: how many, and when the last one did."""

    kind: str
    delivered: int
    last_at: datetime | None


class ProcessingFigures(Protocol):
    """Live figures for the record of processing (Art. 30(1)): counts only, never a value."""

    def subjects_per_kind(self) -> dict[str, int]: ...
    def deliveries(self) -> list[Deliveries]: ...


class StatisticsStore(Protocol):
    """The statistics' reads (store/statistics_repo.py): consent events and cookie choices counted in SQL."""

    def requests(self, first_day: date, after: date) -> list[RequestRow]: ...
    def breaches(self, start: datetime, end: datetime) -> list[BreachRow]: ...
    def consents(self, months: Months) -> list[ConsentCount]: ...
    def cookies(self, months: Months) -> list[CookieCount]: ...


class ConfirmationStore(Protocol):
    """What each recipient must do for each request carried out, and whether it has confirmed."""

    def add(self, confirmations: Sequence[Confirmation]) -> None: ...
    def get(self, confirmation_id: str, lock: bool = False) -> Confirmation | None: ...
    def save(self, confirmation: Confirmation) -> None:
        """Store its state, due date, confirmation and note."""
        ...

    def for_request(self, request_id: str) -> list[Confirmation]: ...
    def for_outbox(self, outbox_id: str) -> list[Confirmation]: ...
    def in_states(self, states: Collection[ConfirmationState], limit: int) -> list[Confirmation]:
        """Confirmations in these states, by due date (none last), then when they were made."""
        ...


@dataclass(frozen=True)
class ExportRecord:
    """One export of customers' master data for the accounts; each person in it was disclosed to `recipient`."""

    id: str
    kind: str  # saft | csv
    recipient: str
    at: datetime
    actor: str
    role: str
    subjects: int
    fields: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class Disclosed:
    kind: str  # saft | csv
    recipient: str
    people: int  # disclosures: one per person per export
    last_at: datetime | None


class ExportLog(Protocol):
    def add(self, export: ExportRecord, people: Mapping[str, Sequence[str]]) -> None:
        """Record the export and each person in it (subject id -> the fields they had in it)."""
        ...

    def for_subject(self, subject_id: str) -> list[ExportRecord]:
        """The exports this person was in, oldest first, each with the fields the person had in it."""
        ...

    def recipients_of(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        """Per subject, the recipients an export gave them to (subjects never exported are left out)."""
        ...

    def figures(self) -> list[Disclosed]:
        """Per kind of export and recipient: how many disclosures of a person, and the last export."""
        ...


class ReconciliationStore(Protocol):
    def save(self, run: Reconciliation) -> None:
        """Store the run as it stands (a run is saved when it starts and again when it ends)."""
        ...

    def last(self, recipient: str) -> Reconciliation | None: ...


class UserStore(Protocol):
    """Staff users; the password only as its hash, the token only as its digest."""

    def add(self, user: User, password_hash: str, token_digest: str) -> None: ...
    def get(self, user_id: str) -> User | None: ...
    def by_name(self, name: str) -> tuple[User, str] | None:
        """The user of this name and their password hash."""
        ...

    def by_token(self, digest: str) -> User | None: ...
    def all(self) -> list[User]: ...
    def set_token(self, user_id: str, prefix: str, digest: str) -> None: ...
    def set_password(self, user_id: str, password_hash: str, must_change: bool) -> None: ...
    def set_language(self, user_id: str, language: str) -> None: ...
    def disable(self, user_id: str, at: datetime) -> None: ...


class SessionStore(Protocol):
    def add(self, session: Session) -> None: ...
    def get(self, digest: str) -> Session | None: ...
    def touch(self, digest: str, at: datetime) -> None: ...
    def end(self, digest: str) -> None: ...
    def end_for_user(self, user_id: str) -> int: ...
    def purge(self, idle_before: datetime, created_before: datetime) -> int:
        """Delete sessions unused since `idle_before` or opened before `created_before`."""
        ...


class ThrottleStore(Protocol):
    def get(self, key: str) -> Throttle | None: ...
    def fail(self, key: str, at: datetime) -> None:
        """Count one more failure against the key, atomically (several processes may count at once)."""
        ...

    def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class DemoMessage:
    """An SMS or e-mail the demo sink took instead of LINK Mobility or the mail server: shown, never sent."""

    id: str
    outbox_id: str
    kind: str  # sms | email
    at: datetime
    destination: str
    subject_line: str | None
    body: str


class DemoMessageStore(Protocol):
    """The demo sink's messages (a demo only): kept once per outbox row, read newest first, dropped after a week."""

    def add(self, message: DemoMessage) -> bool: ...
    def newest(self, since: datetime, limit: int) -> list[DemoMessage]: ...
    def delete_before(self, before: datetime) -> int: ...


class PublicRequestStore(Protocol):
    """Requests made on the public page, waiting for their one-time code (store/public_repo.py)."""

    def add(
        self, pending: PendingRequest, identity: Mapping[str, str], details: Mapping[str, Any] | None, code: str
    ) -> None: ...
    def get(self, pending_id: str, lock: bool = False) -> PendingRequest | None: ...
    def identity(self, pending_id: str) -> dict[str, str] | None: ...
    def details(self, pending_id: str) -> dict[str, Any] | None: ...
    def matches(self, pending_id: str, code: str) -> bool: ...
    def failed(self, pending_id: str) -> None: ...
    def confirmed(self, pending_id: str, at: datetime, request_id: str) -> None: ...
    def used_up(self, pending_id: str) -> None: ...
    def expire(self, before: datetime) -> int: ...


class AnswerLinkStore(Protocol):
    """Single-use links to the answers of requests from the web (store/public_repo.py)."""

    def add(self, link: AnswerLink, token: str) -> None: ...
    def by_token(self, token: str, lock: bool = False) -> AnswerLink | None: ...
    def for_request(self, request_id: str) -> list[AnswerLink]: ...
    def new_code(self, link_id: str, code: str, expires_at: datetime) -> None: ...
    def matches(self, link_id: str, code: str) -> bool: ...
    def failed(self, link_id: str) -> None: ...
    def fetched(self, link_id: str, at: datetime) -> None: ...
    def close(self, link_id: str, at: datetime) -> None: ...
    def ended(self, before: datetime) -> list[AnswerLink]: ...


class RateLimitStore(Protocol):
    def hit(self, key: str, window_start: datetime) -> int:
        """Count a hit in the window and return the window's count, atomically across processes."""
        ...

    def forget(self, before: datetime) -> int: ...


class CookieChoiceStore(Protocol):
    """The website's cookie choices (ekomloven § 2-7b): each one kept as proof, counted by month."""

    def add(self, choice: CookieChoice) -> None: ...
    def for_visitor(self, visitor: str) -> list[CookieChoice]: ...
    def count(self) -> int: ...
    def tally(self, months: Sequence[tuple[str, datetime, datetime]]) -> dict[tuple[str, str], int]:
        """Per month (label, start, end: half-open) and stored choices (canonical JSON), how many choices."""
        ...

    def delete_before(self, before: datetime) -> int: ...


class KeyMaintenance(Protocol):
    """The key store's upkeep: keys whose owner is gone, and subjects whose key is gone."""

    def sweep_orphans(self) -> int:
        """Delete every data key whose owner is nowhere in the register; how many went."""
        ...

    def keyless_subjects(self) -> int:
        """How many subjects have no data key (their values open no more)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: everything done through it commits together, or not at all."""

    @property
    def keys(self) -> KeyMaintenance: ...

    @property
    def subjects(self) -> SubjectRepository: ...
    @property
    def relationships(self) -> RelationshipRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def policies(self) -> PolicyVersions: ...
    @property
    def consents(self) -> ConsentLedger: ...
    @property
    def blocks(self) -> BlockRepository: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def messages(self) -> MessageLog: ...
    @property
    def retention(self) -> RetentionStore: ...
    @property
    def reviews(self) -> ReviewStore: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def receipts(self) -> ErasureReceipts: ...
    @property
    def archive(self) -> ArchiveRepository: ...
    @property
    def notices(self) -> NoticeVersions: ...
    @property
    def breaches(self) -> BreachRegister: ...
    @property
    def figures(self) -> ProcessingFigures: ...
    @property
    def statistics(self) -> StatisticsStore: ...
    @property
    def confirmations(self) -> ConfirmationStore: ...
    @property
    def exports(self) -> ExportLog: ...
    @property
    def reconciliations(self) -> ReconciliationStore: ...
    @property
    def users(self) -> UserStore: ...
    @property
    def sessions(self) -> SessionStore: ...
    @property
    def throttles(self) -> ThrottleStore: ...
    @property
    def cookie_choices(self) -> CookieChoiceStore: ...
    @property
    def public_requests(self) -> PublicRequestStore: ...
    @property
    def answer_links(self) -> AnswerLinkStore: ...
    @property
    def rate_limits(self) -> RateLimitStore: ...
    @property
    def demo_messages(self) -> DemoMessageStore: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never if it rolls back); its failure is not the
        transaction's."""


@dataclass(frozen=True)
class JournaledErasure:
    """One erasure as the erasure journal holds it: ids and time only; `confirmed`: marked committed."""

    receipt_id: str
    subject_id: str
    erased_at: datetime
    cause: str
    request_id: str | None
    confirmed: bool


class ErasureJournal(Protocol):
    """Every erasure written down outside the database, ids and times only: a restored backup erases them again."""

    def intend(self, receipts: Sequence[ErasureReceipt]) -> Callable[[], None]:
        """Append these erasures before their transaction commits; returns what marks them committed, once it has.

        Raises NotReady when the journal cannot be written: the erasure must then not commit either.
        """
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class HeldContact:
    """A contact a processor holds, as its API lists it: its id there, and the email address it is known by."""

    id: str
    email: str | None


class ContactSource(Protocol):
    """Pages through every contact a processor holds (HubSpot's search API), at the pace its limits allow.

    Raises NotReady when the processor cannot be read to the end (unreachable, refused, throttled too long).
    """

    def pages(self) -> Iterator[list[HeldContact]]: ...
