"""The customer register's use cases: add, show, list, update and import subjects; start and end relationships."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.archive import may_read
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import (
    MARKETING,
    Block,
    ConsentAction,
    ConsentEvent,
    ConsentMethod,
    EffectiveConsent,
    effective_consents,
)
from personvern.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, invalid
from personvern.domain.history import NO_HISTORY, History
from personvern.domain.retention import Facts, local_day, schedule_for
from personvern.domain.subjects import (
    Relationship,
    RelationshipType,
    Subject,
    check_columns,
    check_removal,
    check_rows,
    check_values,
)
from personvern.domain.values import BadValue, lookup_key, normalise
from personvern.policy.schema import FieldType, Policy
from personvern.services import processors
from personvern.services.context import Context, new_id
from personvern.services.ports import Lookup, UnitOfWork
from personvern.services.processors import HUBSPOT_CHANNEL
from personvern.services.retention import new_schedules, refresh, refresh_organisations, today

IMPORT_BATCH = 5000

# The words of refusals that name what else to give. Services speak of fields; each adapter says them in its
# own terms (the command line as its options, cli/words.py), so these are constants it can find.
ONE_OF_ID_EMAIL_PHONE = "give exactly one of: a subject id, an email or a phone number"
ONE_OF_ID_EMAIL_PHONE_NAME = "give exactly one of: a subject id, an email, a phone number or a name"
NAMESAKES_HINT = "list them by name, then show one of them by its id"
NOTHING_TO_CHANGE = "nothing to change: give a value to set or a field to remove"


@dataclass(frozen=True)
class SubjectView:
    """A subject as one role may see it, with its relationships."""

    subject: Subject
    values: dict[str, str]
    relationships: list[Relationship]
    # For roles that may read the consent ledger: the state the rules decide per (purpose, channel), the blocks
    # in force.
    consents: list[EffectiveConsent] | None = None
    blocks: list[Block] | None = None


def _unique_lookups(policy: Policy, values: Mapping[str, str]) -> list[Lookup]:
    return [
        Lookup(name, lookup_key(policy.fields[name].type, value))
        for name, value in values.items()
        if policy.fields[name].unique
    ]


def _refuse_duplicates(uow: UnitOfWork, policy: Policy, values: Mapping[str, str], self_id: str | None) -> None:
    # The same person twice would split their data and defeat access and erasure requests (Art. 15, 17).
    problems = []
    for lookup in _unique_lookups(policy, values):
        holders = [s for s in uow.subjects.find(lookup) if s != self_id]
        if holders:
            problems.append(FieldProblem(lookup.field, f"is already registered for subject {holders[0]}"))
    if problems:
        raise Conflict("\n".join(["the same person is already in the register:", *map(str, problems)]))


def _visible(ctx: Context, subject: Subject) -> dict[str, str]:
    # In the policy's order, so every rendering lists a person's data the same way.
    return {
        name: subject.values[name]
        for name, spec in ctx.policy.fields.items()
        if name in subject.values and ctx.actor.sees_field(spec.purposes)
    }


def add_subject(
    ctx: Context,
    kind: str,
    values: Mapping[str, str],
    reasons: Mapping[str, str],
    source: str = "data_subject",
    received_at: datetime | None = None,
) -> Subject:
    ctx.actor.require(Permission.REGISTER_WRITE)
    checked = check_values(ctx.policy, kind, values, reasons, complete=True)
    if checked.problems:
        raise InvalidInput(checked.problems)
    now = ctx.clock.now()
    subject = Subject(new_id(), kind, checked.values, source, received_at or now, now, now)
    with ctx.uow() as uow:
        _refuse_duplicates(uow, ctx.policy, checked.values, None)
        uow.subjects.add([subject], new_schedules(ctx, [subject]))
        refresh_organisations(ctx, uow, [subject])
        ctx.record(uow, _created(subject, reasons))
        uow.commit()
    return subject


def _created(subject: Subject, reasons: Mapping[str, str]) -> AuditEvent:
    details: dict[str, Any] = {
        "kind": subject.kind,
        "fields": sorted(subject.values),
        "source": subject.source,
    }
    if reasons:
        details["reasons"] = dict(reasons)
    return AuditEvent("subject.create", subject.id, "service", details)


def require_subject(uow: UnitOfWork, subject_id: str) -> None:
    """A subject that is not in the live register (never was, or erased) is an error for every use case."""
    if not uow.subjects.exists(subject_id):
        raise NotFound(f"no subject with id {subject_id} in the register")


def require_lookup(ctx: Context, name: str) -> None:
    """Refuse a search by a field the actor's role may not read (a field the policy lacks: by nobody's rule)."""
    spec = ctx.policy.fields.get(name)
    ctx.actor.require_lookup(name, spec.purposes if spec is not None else [])


def resolve(ctx: Context, uow: UnitOfWork, subject_id: str | None, email: str | None, phone: str | None) -> str:
    """Find the one subject meant by an id, an email or a phone number; never echo the value back."""
    given = [x for x in (subject_id, email, phone) if x]
    if len(given) != 1:
        raise invalid("subject", ONE_OF_ID_EMAIL_PHONE)
    if subject_id:
        require_subject(uow, subject_id)
        return subject_id
    lookup = _lookup(ctx, email, phone)
    found = uow.subjects.find(lookup)
    if not found:
        raise NotFound(f"no subject in the register has that {lookup.field}")
    return found[0]


def _lookup(ctx: Context, email: str | None, phone: str | None) -> Lookup:
    name, field_type, value = ("email", FieldType.EMAIL, email) if email else ("phone", FieldType.PHONE, phone)
    assert value is not None
    require_lookup(ctx, name)
    try:
        return Lookup(name, lookup_key(field_type, normalise(field_type, value, ctx.policy.default_region)))
    except BadValue as exc:
        raise invalid(name, str(exc)) from None


def _gone(ctx: Context, uow: UnitOfWork, subject_id: str | None, email: str | None, phone: str | None) -> str | None:
    """Where someone not in the live register went, for the archive's readers only; None: the plain not-found.

    The archive is the CEO's alone (the policy's `archive.readable_by`), so other roles are not told that it
    holds someone. Only ids and dates are said, never a value. An erased person's email or phone is gone with
    their keys by design: by those, only the archive's blind index can still find someone.
    """
    if not (ctx.actor.may(Permission.ARCHIVE_READ) and may_read(ctx.policy, ctx.actor.role)):
        return None
    if subject_id:
        record = uow.archive.for_subject(subject_id)
        if record is None:
            receipts = uow.receipts.for_subject(subject_id)
            if not receipts:
                return None
            last = max(receipts, key=lambda r: r.erased_at)
            day = local_day(last.erased_at, ctx.policy).isoformat()
            return f"subject {subject_id} is not in the live register: it was erased on {day} (receipt {last.id})"
        where = f"subject {subject_id} is not in the live register"
    else:
        lookup = _lookup(ctx, email, phone)
        if lookup.field not in ctx.policy.archive.fields:
            return f"no subject in the register has that {lookup.field} (the archive keeps no {lookup.field})"
        records = uow.archive.find(lookup)
        if not records:
            return f"no subject in the register (nor the archive) has that {lookup.field}"
        record = records[0]
        where = f"no subject in the live register has that {lookup.field}"
    ctx.record(uow, AuditEvent("archive.lookup", record.subject_id, None, {"record": record.id}))
    day = local_day(record.archived_at, ctx.policy).isoformat()
    return f"{where}: it was archived on {day} (`personvern archive show {record.id}`)"


MAX_NAMESAKES = 20  # ids named in the answer to an ambiguous look-up by name


def name_lookups(ctx: Context, name: str) -> list[Lookup]:
    """What a look-up by name looks for: the name, folded (`domain.values.name_key`), in every field of type name."""
    fields = [f for f, spec in ctx.policy.fields.items() if spec.type is FieldType.NAME]
    if not fields:
        raise invalid(
            "name",
            "the policy in force declares no field of type 'name' to find people by "
            "(24 Center's policy does: `personvern init` loads it)",
        )
    try:
        key = lookup_key(FieldType.NAME, normalise(FieldType.NAME, name))
    except BadValue as exc:
        raise invalid("name", str(exc)) from None
    return [Lookup(field, key) for field in fields]


def find_by_name(uow: UnitOfWork, lookups: list[Lookup]) -> list[str]:
    """Every subject with that name (through the blind index, nothing decrypted), in id order."""
    return sorted({sid for lookup in lookups for sid in uow.subjects.find(lookup)})


def show_subject(
    ctx: Context,
    subject_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    purpose: str | None = None,
    name: str | None = None,
) -> SubjectView:
    ctx.actor.require(Permission.REGISTER_READ)
    chosen = ctx.check_purpose(purpose)
    if name is not None and (subject_id or email or phone):
        raise invalid("subject", ONE_OF_ID_EMAIL_PHONE_NAME)
    lookups = name_lookups(ctx, name) if name is not None else None
    with ctx.uow() as uow:
        try:
            sid = _one_by_name(uow, lookups) if lookups is not None else resolve(ctx, uow, subject_id, email, phone)
        except NotFound:
            gone = None if lookups is not None else _gone(ctx, uow, subject_id, email, phone)
            if gone is None:
                raise
            uow.commit()  # the look-up in the archive is in the audit chain
            raise NotFound(gone) from None
        subject = uow.subjects.get(sid)
        assert subject is not None
        relationships = uow.relationships.for_subject(sid)
        consents: list[EffectiveConsent] | None = None
        blocks: list[Block] | None = None
        if ctx.actor.may(Permission.CONSENT_READ):
            held = uow.blocks.for_subject(sid)
            consents = effective_consents(ctx.policy, uow.consents.for_subject(sid), held)
            blocks = [b for b in held if b.active]
        ctx.record(uow, AuditEvent("subject.read", sid, chosen, {"fields": sorted(_visible(ctx, subject))}))
        uow.commit()
    return SubjectView(subject, _visible(ctx, subject), relationships, consents, blocks)


def _one_by_name(uow: UnitOfWork, lookups: list[Lookup]) -> str:
    """The one subject with that name; namesakes are listed by id (not values), never one picked for the caller."""
    found = find_by_name(uow, lookups)
    if not found:
        raise NotFound("no subject in the register has that name")
    if len(found) > 1:
        shown = ", ".join(found[:MAX_NAMESAKES]) + (", ..." if len(found) > MAX_NAMESAKES else "")
        raise Conflict(f"{len(found)} subjects in the register have that name: {shown}; {NAMESAKES_HINT}")
    return found[0]


def list_subjects(
    ctx: Context,
    kind: str | None = None,
    organisation_number: str | None = None,
    limit: int = 50,
    offset: int = 0,
    purpose: str | None = None,
    name: str | None = None,
) -> tuple[int, list[SubjectView]]:
    ctx.actor.require(Permission.REGISTER_READ)
    chosen = ctx.check_purpose(purpose)
    if kind is not None and kind not in ctx.policy.kinds:
        raise invalid("kind", f"unknown subject kind {kind!r}; allowed: {', '.join(ctx.policy.kinds)}")
    if limit < 1 or limit > 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    if offset < 0:
        raise invalid("offset", "must not be negative")
    org: Lookup | None = None
    if organisation_number is not None:
        require_lookup(ctx, "organisation_number")
        try:
            org = Lookup("organisation_number", normalise(FieldType.ORGANISATION_NUMBER, organisation_number))
        except BadValue as exc:
            raise invalid("organisation", str(exc)) from None
    lookups = name_lookups(ctx, name) if name is not None else None
    with ctx.uow() as uow:
        among = find_by_name(uow, lookups) if lookups is not None else None
        total = uow.subjects.count(kind, org, among)
        subjects = uow.subjects.list(kind, org, limit, offset, among)
        relationships = uow.relationships.for_subjects([s.id for s in subjects])
        views = [SubjectView(s, _visible(ctx, s), relationships[s.id]) for s in subjects]
        # Every subject shown is a read of personal data, and each person may later ask who saw it.
        ctx.record(uow, *(AuditEvent("subject.read", v.subject.id, chosen, {"via": "list"}) for v in views))
        uow.commit()
    return total, views


def update_subject(
    ctx: Context,
    subject_id: str,
    changes: Mapping[str, str],
    remove: list[str],
    reasons: Mapping[str, str],
) -> Subject:
    ctx.actor.require(Permission.REGISTER_WRITE)
    with ctx.uow() as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id} in the register")
        updated = apply_changes(ctx, uow, subject, changes, remove, reasons).subject
        uow.commit()
    return updated


@dataclass(frozen=True)
class Changed:
    subject: Subject
    changed: list[str]
    removed: list[str]
    told: list[processors.ProcessorNotice]  # the recipients holding a changed field, told of it (Art. 19)


def apply_changes(
    ctx: Context,
    uow: UnitOfWork,
    subject: Subject,
    changes: Mapping[str, str],
    remove: list[str],
    reasons: Mapping[str, str],
    cause: Mapping[str, str] | None = None,
) -> Changed:
    """Change a subject's values inside the caller's transaction, through the register's own validation.

    Used by `subject update` and by rectification requests (Art. 16), so a corrected value meets the same
    rules as a new one.
    """
    if not changes and not remove:
        raise invalid("changes", NOTHING_TO_CHANGE)
    both = sorted(set(changes) & set(remove))
    if both:
        raise invalid(both[0], "cannot be set and removed at once")
    checked = check_values(ctx.policy, subject.kind, changes, reasons, complete=False)
    problems = checked.problems + check_removal(ctx.policy, subject.kind, remove)
    if problems:
        raise InvalidInput(problems)
    _refuse_duplicates(uow, ctx.policy, checked.values, subject.id)
    values = {k: v for k, v in subject.values.items() if k not in remove}
    values.update(checked.values)
    changed = [k for k, v in checked.values.items() if subject.values.get(k) != v]
    removed = [k for k in remove if k in subject.values]
    updated = subject.with_values(values, ctx.clock.now())
    uow.subjects.update(updated, changed, removed)
    # A new organisation number brings its organisation's contracts, for this subject and its new peers.
    refresh(ctx, uow, [subject.id], organisation="organisation_number" in changed + removed)
    details: dict[str, object] = {"changed": sorted(changed), "removed": sorted(removed)}
    if reasons:
        details["reasons"] = dict(reasons)
    if cause:
        details.update(cause)
    ctx.record(uow, AuditEvent("subject.update", subject.id, "service", details))
    # Art. 19: every recipient that received a changed value is told, whichever way the change came in.
    told = processors.propagate_change(ctx, uow, updated, changed + removed) if changed or removed else []
    return Changed(updated, changed, removed, told)


def _batches(rows: Iterable[tuple[int, Mapping[str, str]]], size: int) -> Iterator[list[tuple[int, Mapping[str, str]]]]:
    batch: list[tuple[int, Mapping[str, str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Imported:
    """What an import stored (or, with `check`, would store), and what retention makes of it on the day."""

    kind: str
    subjects: int
    stored: bool  # False: a dry run (`--check`), rolled back
    orders: int = 0
    contracts: int = 0
    consents: Mapping[str, int] = field(default_factory=dict)  # per marketing channel
    shared: int = 0  # HubSpot shares queued for the consents to marketing by email
    due: int = 0  # due for archiving or erasure today because of the import (the register's due, after less before)
    register: int = 0  # subjects in the register after the import
    register_due: int = 0  # of them, due today
    allowed: int = 0  # what the worker's daily sweep may archive or erase on its own (the policy's [unattended])
    confirmed: bool = False  # the CEO has run `retention run` on this register: the worker may sweep alone

    @property
    def worker_waits(self) -> bool:
        """The worker's next sweep would wait for the CEO: more due than it may do alone, or never confirmed."""
        return self.register_due > 0 and (self.register_due > self.allowed or not self.confirmed)


def import_subjects(
    ctx: Context,
    kind: str,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    reasons: Mapping[str, str],
    source: str = "import",
    progress: Callable[[int], None] | None = None,
    columns: list[str] | None = None,
) -> int:
    """Add every row or none (see `import_rows`); the number of subjects added."""
    return import_rows(ctx, kind, rows, reasons, source, progress, columns).subjects


def import_rows(
    ctx: Context,
    kind: str,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    reasons: Mapping[str, str],
    source: str = "import",
    progress: Callable[[int], None] | None = None,
    columns: list[str] | None = None,
    check: bool = False,
) -> Imported:
    """Add every row or none, with the history it brings (`domain.history`); every problem is reported with its line.

    Batches are checked (possibly in other processes, through `ctx.map`) while earlier batches are
    written inside one open transaction; the first problem stops the writing, checking goes on so
    that every bad row is reported, and the transaction is rolled back. Each person's orders, contracts and
    consents are stored with them, and their retention schedule computed from all of it, so an existing
    register moves in with its reasons to keep. `check`: the same, rolled back at the end (a dry run).
    """
    ctx.actor.require(Permission.REGISTER_WRITE)
    if kind not in ctx.policy.kinds:
        raise invalid("kind", f"unknown subject kind {kind!r}; allowed: {', '.join(ctx.policy.kinds)}")
    if columns is not None:
        header_problems = check_columns(ctx.policy, kind, columns)
        if header_problems:
            raise InvalidInput(header_problems, "nothing was imported: the header does not fit the kind")
    now = ctx.clock.now()
    problems: list[FieldProblem] = []
    seen: dict[tuple[str, str], int] = {}
    clash = False  # the database refused a value already held by another subject
    checker = partial(check_rows, ctx.policy, kind, dict(reasons), now=now)
    checked_batches = ctx.map(checker, _batches(rows, IMPORT_BATCH))
    details: dict[tuple[str, ...], Mapping[str, Any]] = {}  # shared by rows with the same fields: one JSON each
    tally = _Tally()
    with ctx.uow() as uow:
        due_before = uow.retention.count_due(today(ctx))
        for checked_batch in checked_batches:
            subjects: list[Subject] = []
            pasts: dict[str, History] = {}
            events: list[AuditEvent] = []
            for line, values, row_problems, keys, past in checked_batch:
                problems.extend(row_problems)
                for field_name, key in keys:
                    first = seen.setdefault((field_name, key), line)
                    if first != line:
                        problems.append(FieldProblem(field_name, f"the same value as line {first}", line))
                if not row_problems and not problems:
                    subject = Subject(new_id(), kind, values, source, past.received_at or now, now, now)
                    subjects.append(subject)
                    if past is not NO_HISTORY:
                        pasts[subject.id] = past
                    fields = tuple(sorted(values))
                    if fields not in details:
                        details[fields] = _created(subject, {k: v for k, v in reasons.items() if k in values}).details
                    events.append(AuditEvent("subject.create", subject.id, "service", details[fields]))
            if not problems and not clash:
                clash = not _store_batch(ctx, uow, subjects, pasts, events, tally)
            if progress is not None:
                progress(len(checked_batch))
        if not problems and not clash:
            if tally.subjects == 0:
                raise invalid("file", "has no data rows")
            # A contract or order of one business subject counts for every member of its organisation (in this
            # file or already in the register): those schedules are computed again from what is now stored.
            refresh(ctx, uow, tally.organisations, organisation=True)
            day = today(ctx)
            register_due = uow.retention.count_due(day)
            register = uow.subjects.count(None, None)
            result = Imported(
                kind,
                tally.subjects,
                not check,
                tally.orders,
                tally.contracts,
                dict(tally.consents),
                tally.shared,
                max(register_due - due_before, 0),
                register,
                register_due,
                ctx.policy.unattended.allowed(register),
                uow.retention.confirmed(),
            )
            if not check:
                uow.commit()
            return result
    # Something is wrong and nothing was stored. Name every row that clashes with the register too;
    # the unique index found the first clash, this finds them all (only on the failure path).
    with ctx.uow() as uow:
        for name, spec in ctx.policy.fields.items():
            if spec.unique:
                lines = {key: line for (field_name, key), line in seen.items() if field_name == name}
                for key, holder in uow.subjects.find_many(name, lines).items():
                    problems.append(FieldProblem(name, f"is already registered for subject {holder}", lines[key]))
    problems.sort(key=lambda p: (p.line or 0, p.field))
    raise InvalidInput(problems, f"nothing was imported: {len(problems)} problem(s)")


@dataclass
class _Tally:
    subjects: int = 0
    orders: int = 0
    contracts: int = 0
    consents: dict[str, int] = field(default_factory=dict)
    shared: int = 0
    organisations: set[str] = field(default_factory=set)  # business subjects with an order or contract of their own


def _store_batch(
    ctx: Context,
    uow: UnitOfWork,
    subjects: list[Subject],
    pasts: Mapping[str, History],
    events: list[AuditEvent],
    tally: _Tally,
) -> bool:
    """Store one checked batch with its history in the caller's transaction; False if a unique value clashed."""
    relationships: dict[str, list[Relationship]] = {}
    consents: dict[str, list[ConsentEvent]] = {}
    for subject in subjects:
        past = pasts.get(subject.id)
        if past is not None:
            relationships[subject.id], consents[subject.id] = _history_of(ctx, subject, past)
    schedules = new_schedules(ctx, [s for s in subjects if s.id not in pasts])
    day = today(ctx)
    for subject in subjects:
        if subject.id in pasts:
            facts = Facts(subject.kind, subject.received_at, relationships[subject.id], consents[subject.id], ())
            schedules[subject.id] = schedule_for(ctx.policy, facts, day)
    try:
        uow.subjects.add(subjects, schedules)
    except Conflict:
        return False
    rels = [r for group in relationships.values() for r in group]
    given = [e for group in consents.values() for e in group]
    uow.relationships.add_many(rels)
    uow.consents.append_many(given)
    refresh_organisations(ctx, uow, subjects, consents)
    ctx.record(uow, *events, *(_started(r) for r in rels), *(_consented(e) for e in given))
    by_email = {e.subject_id for e in given if e.channel == HUBSPOT_CHANNEL}
    tally.shared += processors.consents_imported(ctx, uow, [s for s in subjects if s.id in by_email])
    business = {k for k, spec in ctx.policy.kinds.items() if spec.business}
    tally.organisations |= {s.id for s in subjects if s.kind in business and relationships.get(s.id)}
    tally.subjects += len(subjects)
    tally.orders += sum(1 for r in rels if r.type is RelationshipType.ORDER)
    tally.contracts += sum(1 for r in rels if r.type is RelationshipType.CONTRACT)
    for event in given:
        tally.consents[event.channel] = tally.consents.get(event.channel, 0) + 1
    return True


def _history_of(ctx: Context, subject: Subject, past: History) -> tuple[list[Relationship], list[ConsentEvent]]:
    """The relationships and ledger events an imported row's history stands for."""
    rels = []
    if past.order is not None:
        rels.append(Relationship(new_id(), subject.id, RelationshipType.ORDER, past.order))
    if past.contract is not None:
        start, end = past.contract
        rels.append(Relationship(new_id(), subject.id, RelationshipType.CONTRACT, start, end))
    assert not past.consents or past.method is not None  # domain.history refuses a consent without its method
    given = [
        ConsentEvent(
            new_id(),
            subject.id,
            MARKETING,
            channel,
            ConsentAction.GIVEN,
            at,
            past.method or ConsentMethod.IMPORT,
            ctx.actor.name,
            ctx.actor.role,
            past.notice,
            past.proof,
        )
        for channel, at in past.consents
    ]
    return rels, given


def _started(rel: Relationship) -> AuditEvent:
    details: dict[str, Any] = {"relationship": rel.id, "type": rel.type.value, "started_on": rel.started_on.isoformat()}
    if rel.ends_on is not None:
        details["ends_on"] = rel.ends_on.isoformat()
    return AuditEvent("relationship.start", rel.subject_id, "service", details | {"via": "import"})


def _consented(event: ConsentEvent) -> AuditEvent:
    # As `consent give` records it, with where it came from; the proof's text may describe the person: never here.
    details = {"event": event.id, "channel": event.channel, "method": event.method.value, "notice": event.notice_sha256}
    return AuditEvent("consent.give", event.subject_id, event.purpose, details | {"via": "import"})


def start_relationship(
    ctx: Context,
    subject_id: str,
    type_: str,
    started_on: date | None = None,
    ends_on: date | None = None,
    description: str | None = None,
) -> Relationship:
    ctx.actor.require(Permission.REGISTER_WRITE)
    try:
        kind = RelationshipType(type_)
    except ValueError:
        raise invalid("type", "must be 'order' or 'contract'") from None
    start = started_on or ctx.clock.now().date()
    if ends_on is not None and kind is not RelationshipType.CONTRACT:
        raise invalid("ends", "only a contract states its end in advance")
    if ends_on is not None and ends_on <= start:
        raise invalid("ends", f"must be after the start ({start.isoformat()})")
    if description is not None and not description.strip():
        raise invalid("description", "must not be empty")
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        rel = Relationship(new_id(), subject_id, kind, start, ends_on, None, description)
        uow.relationships.add(rel)
        refresh(ctx, uow, [subject_id], organisation=True)
        details = {"relationship": rel.id, "type": kind.value, "started_on": start.isoformat()}
        if ends_on:
            details["ends_on"] = ends_on.isoformat()
        ctx.record(uow, AuditEvent("relationship.start", subject_id, "service", details))
        uow.commit()
    return rel


def end_relationship(
    ctx: Context, target_id: str, type_: str | None = None, ended_on: date | None = None
) -> list[Relationship]:
    """End the subject's open relationships (of one type, if given): the customer or the company asked.

    `target_id` may instead be one relationship's id, as `start` returns it: then that order or contract
    alone ends, and the subject's others stay (a customer ends one contract, not the whole customer relationship).
    """
    ctx.actor.require(Permission.REGISTER_WRITE)
    if type_ is not None and type_ not in {t.value for t in RelationshipType}:
        raise invalid("type", "must be 'order' or 'contract'")
    day = ended_on or ctx.clock.now().date()
    with ctx.uow() as uow:
        if uow.subjects.exists(target_id):
            subject_id = target_id
            # A contract past its stated end is over already; ending it later would make it active again.
            open_ = [
                r
                for r in uow.relationships.for_subject(subject_id)
                if r.ended_on is None
                and (r.ends_on is None or r.ends_on > day)
                and (type_ is None or r.type.value == type_)
            ]
            if not open_:
                raise NotFound(f"subject {subject_id} has no open {type_ or 'order or contract'} to end")
        else:
            rel = uow.relationships.get(target_id)
            if rel is None:
                raise NotFound(f"no subject or relationship with id {target_id} in the register")
            subject_id = rel.subject_id
            _check_open(rel, type_, day)
            open_ = [rel]
        ended = []
        for rel in open_:
            if day < rel.started_on:
                raise invalid("on", f"{day.isoformat()} is before the start ({rel.started_on.isoformat()})")
            uow.relationships.end(rel.id, day)
            ended.append(
                Relationship(rel.id, rel.subject_id, rel.type, rel.started_on, rel.ends_on, day, rel.description)
            )
        refresh(ctx, uow, [subject_id], organisation=True)
        ctx.record(
            uow,
            AuditEvent(
                "relationship.end",
                subject_id,
                "service",
                {"relationships": [r.id for r in ended], "ended_on": day.isoformat()},
            ),
        )
        uow.commit()
    return ended


def _check_open(rel: Relationship, type_: str | None, day: date) -> None:
    """One relationship, named by its id, can be ended only while it is open on that day."""
    if type_ is not None and rel.type.value != type_:
        raise invalid("type", f"relationship {rel.id} is a {rel.type.value}, not a {type_}")
    if rel.ended_on is not None:
        raise Conflict(f"relationship {rel.id} has already ended (on {rel.ended_on.isoformat()})")
    if rel.ends_on is not None and rel.ends_on <= day:
        # Ending it later than its stated end would make it active again.
        raise Conflict(f"relationship {rel.id} ended by its stated end on {rel.ends_on.isoformat()}")
